/** `ztproxy serve` as a process: single, primary or worker (see serve.ts). */
export { serve } from './serve.js';
