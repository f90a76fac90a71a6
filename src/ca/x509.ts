/** @peculiar/x509, loaded after the Reflect shim it needs (see reflect-shim.ts). */
import './reflect-shim.js';
export * from '@peculiar/x509';
