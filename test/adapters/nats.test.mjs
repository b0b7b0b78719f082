// The adapter contract (contract.mjs) on NatsAdapter, with each NATS client it supports,
// against a nats-server of the test's own.
import { adapterContract } from './contract.mjs';

adapterContract('nats:nats');
adapterContract('nats:transport-node');
