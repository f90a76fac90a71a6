// Loaded by tap into every test process (.taprc node-arg). When Node strips the
// types itself (tap's type-strip-only, Node >= 22.18: no ts-node, no compiler
// loaded per test file), nothing maps the emitted names TypeScript sources
// import each other by ('./x.js') to the sources ('./x.ts'): this does, for a
// relative './x.js' that does not exist next to a './x.ts' that does. On Node 20
// tap keeps ts-node (which maps them itself) and this registers nothing.
import * as nodeModule from 'node:module';

/** Node >= 22.15; a namespace import, as Node 20's node:module has no such export. */
const registerHooks = /** @type {any} */ (nodeModule).registerHooks;

if (process.env.TAP_TYPE_STRIP_ONLY === '1' && typeof registerHooks === 'function') {
  registerHooks({
    resolve(specifier, context, next) {
      try {
        return next(specifier, context);
      } catch (err) {
        const code = /** @type {{ code?: string }} */ (err).code;
        if (code !== 'ERR_MODULE_NOT_FOUND' || !/^\.\.?\//.test(specifier) || !specifier.endsWith('.js')) throw err;
        return next(`${specifier.slice(0, -3)}.ts`, context);
      }
    },
  });
}
