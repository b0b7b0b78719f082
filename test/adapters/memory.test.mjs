// The adapter contract (contract.mjs) on the default in-memory adapter: one node.
import { adapterContract } from './contract.mjs';

adapterContract('memory');
