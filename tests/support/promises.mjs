// Promise helpers: waiting, and the rejection a test expects.

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The rejection of `promise`; fails the test if it resolves. */
export async function catchError(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}
