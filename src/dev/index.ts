/** `--dev`: the dev certificates in certs-dev/ and the built-in echo upstream. */
export { startEchoUpstream, type EchoUpstream } from './echo-upstream.js';
