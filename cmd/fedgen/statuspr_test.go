package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestPrintPullRequests(t *testing.T) {
	const url = "https://gitea.example.com/acme/fleet/pulls/7"
	rows := []statusRow{
		{service: "shop/web-federated", cluster: "north", reason: "PendingReview",
			message: "pushed to the review branch in commit 3333333, not on the followed branch yet; pull request " + url},
		{service: "shop/web-federated", cluster: "east", reason: "Mirrored",
			message: "its leave awaits review (it is no longer selected): review branch commit 3333333, pull request " + url},
		{service: "shop/api-federated", cluster: "east", reason: "ReviewDeclined",
			message: "its join was declined: pull request https://gitea.example.com/acme/fleet/pulls/6 was closed without merging; …"},
		{service: "shop/db-federated", cluster: "east", reason: "Mirrored"},
	}
	var b bytes.Buffer
	if err := printPullRequests(&b, rows); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, want := range []string{
		"PULL REQUEST",
		"https://gitea.example.com/acme/fleet/pulls/6  declined  shop/api-federated east",
		url + "  open      shop/web-federated east, shop/web-federated north",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "db-federated") {
		t.Errorf("a member without a pull request is listed:\n%s", got)
	}
	b.Reset()
	if err := printPullRequests(&b, rows[3:]); err != nil || b.Len() != 0 {
		t.Errorf("without pull requests: %q, %v; want nothing", b.String(), err)
	}
}
