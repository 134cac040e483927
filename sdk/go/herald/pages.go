package herald

import (
	"context"
	"iter"
)

// defaultPageSize is the page size list iterators ask for when the request
// leaves page_size at 0 (the server's own default is 10, its maximum 100).
const defaultPageSize = 100

// pages yields the items of every page, fetching the next page only when
// the consumer gets to it. fetch gets the page token ("" or the request's
// own first) and returns the items and the next page token. An error ends
// the iteration after being yielded once.
func pages[T any](ctx context.Context, first string,
	fetch func(ctx context.Context, pageToken string) ([]T, string, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		token := first
		for {
			items, next, err := fetch(ctx, token)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, item := range items {
				if !yield(item, nil) {
					return
				}
			}
			if next == "" || next == token {
				return
			}
			token = next
		}
	}
}

// Collect gathers every item of a list iterator into a slice, stopping at
// the first error:
//
//	policies, err := herald.Collect(client.ListPolicies(ctx, nil))
func Collect[T any](seq iter.Seq2[T, error]) ([]T, error) {
	var out []T
	for item, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, item)
	}
	return out, nil
}
