/**
 * The four `Reflect` metadata functions tsyringe (used inside @peculiar/x509)
 * insists on at load time. The project has no reflect-metadata dependency and
 * x509 is built without emitted decorator metadata, so a WeakMap store that
 * follows the prototype chain is all it needs. Must be imported before
 * `@peculiar/x509`: import x509 through `./x509.ts`, never directly.
 */
type MetaStore = Map<unknown, unknown>;
const store = new WeakMap<object, MetaStore>();

const R = Reflect as unknown as Record<string, unknown>;

if (typeof R.getMetadata !== 'function') {
  const own = (target: object, create: boolean): MetaStore | undefined => {
    let m = store.get(target);
    if (!m && create) store.set(target, (m = new Map()));
    return m;
  };
  R.defineMetadata = (key: unknown, value: unknown, target: object): void => {
    own(target, true)!.set(key, value);
  };
  R.getOwnMetadata = (key: unknown, target: object): unknown => own(target, false)?.get(key);
  R.getMetadata = (key: unknown, target: object): unknown => {
    for (let t: object | null = target; t; t = Object.getPrototypeOf(t) as object | null) {
      const m = own(t, false);
      if (m?.has(key)) return m.get(key);
    }
    return undefined;
  };
  R.hasMetadata = (key: unknown, target: object): boolean => (R.getMetadata as (k: unknown, t: object) => unknown)(key, target) !== undefined;
}

export {};
