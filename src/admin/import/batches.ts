/**
 * Gathers the single calls made by the import's concurrent rows into one call per batch: the rows
 * dispatched while the file is read ask one at a time, the database answers them in one query or
 * one insertMany. A batch goes when it is full or at the next turn of the event loop, so a lone
 * row never waits for others. Each call gets its own answer, or the batch's error.
 */
export function createBatcher<In, Out>(run: (items: In[]) => Promise<Out[]>, maxSize: number) {
  let pending: { item: In; resolve: (out: Out) => void; reject: (err: unknown) => void }[] = [];
  let scheduled = false;

  function flush() {
    scheduled = false;
    const batch = pending;
    pending = [];
    if (!batch.length) return;
    run(batch.map((p) => p.item)).then(
      (outs) => batch.forEach((p, i) => p.resolve(outs[i])),
      (err) => batch.forEach((p) => p.reject(err)),
    );
  }

  return (item: In): Promise<Out> =>
    new Promise<Out>((resolve, reject) => {
      pending.push({ item, resolve, reject });
      if (pending.length >= maxSize) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
}
