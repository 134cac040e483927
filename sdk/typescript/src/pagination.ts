// Async iteration over paginated List RPCs.

/** One page of a list call. */
export interface Page<T> {
  /** The items of this page. */
  items: T[];
  /** The token of the next page; "" on the last page. */
  nextPageToken: string;
  /** Matching items over all pages, when the RPC reports it. */
  totalSize: number | undefined;
}

interface PagedResponse {
  nextPageToken: string;
  totalSize?: number;
}

/**
 * The result of a list method: iterate it for the items of every page
 * (`for await (const p of client.listPolicies())`), or call byPage() for the
 * pages. Each iteration starts over from the first page requested; pages
 * are fetched lazily, one at a time, as the loop asks for them.
 */
export class Paginator<T, Res extends PagedResponse> implements AsyncIterable<T> {
  /** @internal */
  constructor(
    private readonly firstPageToken: string,
    private readonly fetchPage: (pageToken: string) => Promise<Res>,
    private readonly itemsOf: (res: Res) => T[],
  ) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for await (const page of this.byPage()) yield* page.items;
  }

  /** Yields whole pages, with their nextPageToken and totalSize. */
  async *byPage(): AsyncGenerator<Page<T> & { response: Res }, void, undefined> {
    let token = this.firstPageToken;
    const seen = new Set<string>();
    for (;;) {
      const response = await this.fetchPage(token);
      yield { items: this.itemsOf(response), nextPageToken: response.nextPageToken, totalSize: response.totalSize, response };
      token = response.nextPageToken;
      if (!token) return;
      if (seen.has(token)) throw new Error(`pagination loop: page token ${JSON.stringify(token)} repeated`);
      seen.add(token);
    }
  }

  /** Fetches only the first page. */
  async firstPage(): Promise<Page<T> & { response: Res }> {
    const response = await this.fetchPage(this.firstPageToken);
    return { items: this.itemsOf(response), nextPageToken: response.nextPageToken, totalSize: response.totalSize, response };
  }

  /** Collects every item of every page (mind the size of what you list). */
  async toArray(): Promise<T[]> {
    const out: T[] = [];
    for await (const item of this) out.push(item);
    return out;
  }
}
