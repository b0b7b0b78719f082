// The adapter contract (contract.mjs) on RedisAdapter, with each Redis client it supports,
// against a redis-server of the test's own.
import { adapterContract } from './contract.mjs';

adapterContract('redis:node-redis');
adapterContract('redis:ioredis');
