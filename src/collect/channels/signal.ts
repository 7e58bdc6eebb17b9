/** A one-shot wake-up that any number of waiters share; each wait also ends after a timeout. */
export class Signal {
  private waiters: Array<() => void> = [];

  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(t);
        const i = self.waiters.indexOf(done);
        if (i >= 0) self.waiters.splice(i, 1);
        resolve();
      }
      this.waiters.push(done);
    });
  }

  notify(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }
}
