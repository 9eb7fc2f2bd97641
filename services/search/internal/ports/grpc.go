// Package ports serves acme.search.v1.
package ports

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	searchv1 "github.com/acme/platform/contracts/gen/go/acme/search/v1"
	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/search/internal/app"
)

// GRPC serves acme.search.v1.
type GRPC struct {
	searchv1.UnimplementedSearchServiceServer
	App *app.Service
	Log *slog.Logger
}

func (g GRPC) Search(ctx context.Context, in *searchv1.SearchRequest) (*searchv1.SearchResponse, error) {
	var who *caller.Caller
	c, err := caller.From(ctx)
	switch {
	case err == nil:
		who = &c
	case errs.As(err).Kind != errs.KindUnauthenticated:
		return nil, err
	}
	r := app.Request{Text: in.GetQ(), Types: in.GetTypes(), Visibility: in.GetVisibility(), Tags: in.GetTags(),
		OwnerID: in.GetOwnerId(), ProjectID: in.GetProjectId(), Archived: in.Archived, Sort: in.GetSort(), Order: in.GetOrder(),
		PageSize: int(in.GetPageSize()), PageToken: in.GetPageToken()}
	if in.CreatedFrom != nil {
		r.CreatedFrom = in.GetCreatedFrom().AsTime()
	}
	if in.CreatedTo != nil {
		r.CreatedTo = in.GetCreatedTo().AsTime()
	}
	page, err := g.App.Search(ctx, who, r)
	if err != nil {
		return nil, err
	}
	out := &searchv1.SearchResponse{Total: int32(page.Total), NextPageToken: page.NextPageToken, Facets: map[string]*searchv1.Facet{}}
	for _, h := range page.Hits {
		d := h.Document
		hit := &searchv1.Hit{Id: d.ID, Type: d.Type, Title: d.Title, Description: d.Description, Slug: d.Slug, Tags: d.Tags,
			Visibility: d.Visibility, OwnerId: d.OwnerID, Archived: d.Archived, CreatedAt: ts(d.CreatedAt),
			UpdatedAt: ts(d.UpdatedAt), Score: h.Score, Highlights: map[string]*searchv1.Snippets{},
			ProjectId: d.ProjectID, ContentType: d.ContentType}
		for field, frags := range h.Highlights {
			hit.Highlights[field] = &searchv1.Snippets{Fragments: frags}
		}
		out.Hits = append(out.Hits, hit)
	}
	for name, counts := range page.Facets {
		f := &searchv1.Facet{}
		for _, c := range counts {
			f.Counts = append(f.Counts, &searchv1.FacetCount{Value: c.Value, Count: int32(c.Count)})
		}
		out.Facets[name] = f
	}
	return out, nil
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func (g GRPC) Reindex(_ *searchv1.ReindexRequest, stream searchv1.SearchService_ReindexServer) error {
	ctx := stream.Context()
	c, err := caller.From(ctx)
	if err != nil {
		return errs.ToStatus(err).Err()
	}
	err = g.App.Reindex(ctx, c, func(p app.Progress) error {
		return stream.Send(&searchv1.ReindexResponse{Source: p.Source, Done: p.Done, Finished: p.Finished, Documents: p.Documents})
	})
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	if e := errs.As(err); e.Kind == errs.KindInternal {
		g.Log.ErrorContext(ctx, "reindex failed; the old index is still served", "error", err)
		err = errs.Unavailable("search.reindex_failed", "the reindex stopped; the old index is still served", err)
	}
	return errs.ToStatus(err).Err()
}
