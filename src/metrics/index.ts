/** Public surface of metrics/: the metric definitions, the metrics listener and cluster aggregation. */
export * from './definitions.js';
export * from './listener.js';
export * from './cluster.js';
