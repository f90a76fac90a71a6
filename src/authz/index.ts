export { IdentityPolicy, type Decision } from './policy.js';
