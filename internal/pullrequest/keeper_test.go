package pullrequest

import (
	"context"
	"errors"
	"testing"
)

// lostReplyProvider opens the pull request on its first Create, then
// reports an error as a forge whose answer was lost would; every later
// Create fails with "already exists". Only Create and Latest are used.
type lostReplyProvider struct {
	Provider
	pr      *PullRequest
	creates int
}

func (p *lostReplyProvider) Latest(context.Context, string, string) (*PullRequest, error) {
	return p.pr, nil
}

func (p *lostReplyProvider) Create(_ context.Context, head, base string, c Content) (*PullRequest, error) {
	p.creates++
	if p.pr != nil {
		return nil, errors.New("pull request already exists for these targets")
	}
	p.pr = &PullRequest{Number: 1, URL: "https://forge.example.com/o/r/pulls/1", Head: head, Base: base, Title: c.Title, Body: c.Body, State: Open}
	return nil, errors.New("context deadline exceeded (Client.Timeout exceeded while awaiting headers)")
}

// A Create that failed yet opened the pull request: the Keeper keeps that
// one instead of retrying into "already exists".
func TestKeeperCreateKeepsAPullRequestOpenedByAFailedAttempt(t *testing.T) {
	prov := &lostReplyProvider{}
	k := NewKeeper(KeeperOptions{Provider: prov, Head: "fedgen/review", Base: "main"})
	pr, err := k.create(context.Background(), Content{Title: "t", Body: "b"})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if pr.Number != 1 || prov.creates != 1 {
		t.Errorf("create = #%d after %d Create calls; want #1 after 1", pr.Number, prov.creates)
	}
}
