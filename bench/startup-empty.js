// Intentionally empty: bench/startup.mjs builds it with build/build.mjs's buildExecutable, the same
// packaging as dist/model-entrypoint, to measure the floor of a start (runtime + SEA loader, no code).
