// One rivet-flow server for the whole run (started by driver.test.mjs); the
// suite's tests are isolated by namespace, not by a restart each.
export default {
  test: {
    include: ["driver.test.mjs"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    fileParallelism: false,
  },
};
