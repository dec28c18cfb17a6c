// A read-only view of the git directory for one read pass, given to isomorphic-git in place of `node:fs`.
// isomorphic-git looks for every object as a loose file first and lists objects/pack for every packed
// read; on a packed repository that is one failed open (an Error with a stack) and one readdir per blob.
// Listing each directory once per pass and answering "no such loose object" from that listing makes a
// 10,000-file revision several times cheaper to read. Objects are immutable, so a pass-long listing is
// safe; a concurrent `git gc` can make it stale, which the caller handles by reading again.
import * as fs from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, sep } from 'node:path';

const NOT_FOUND: NodeJS.ErrnoException = Object.freeze(Object.assign(new Error('ENOENT: no such loose object'), { code: 'ENOENT' }));

export type ObjectFs = typeof fs;

export function readPassFs(gitdir: string): ObjectFs {
  const listings = new Map<string, Promise<Set<string> | null>>();
  const objectsDir = join(gitdir, 'objects') + sep;
  const looseObject = /^([0-9a-f]{2})[\\/]([0-9a-f]{38})$/;

  const listing = (dir: string): Promise<Set<string> | null> => {
    let names = listings.get(dir);
    if (!names) {
      names = readdir(dir).then(
        (entries) => new Set(entries),
        () => null,
      );
      listings.set(dir, names);
    }
    return names;
  };

  const promises = {
    ...fs.promises,
    async readdir(path: string): Promise<string[]> {
      const names = await listing(path);
      if (!names) return fs.promises.readdir(path);
      return [...names];
    },
    async readFile(path: string, options?: Parameters<typeof fs.promises.readFile>[1]) {
      // isomorphic-git probes every fs it is given with an argument-less readFile() (once per API call).
      if (typeof path !== 'string') throw NOT_FOUND;
      if (path.startsWith(objectsDir)) {
        const match = looseObject.exec(path.slice(objectsDir.length));
        if (match) {
          const names = await listing(objectsDir + match[1]);
          if (!names?.has(match[2] as string)) throw NOT_FOUND;
        }
      }
      return fs.promises.readFile(path, options);
    },
  };
  // isomorphic-git binds to `fs.promises` only when that property is enumerable.
  return { ...fs, promises } as unknown as ObjectFs;
}
