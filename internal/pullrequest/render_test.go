package pullrequest

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// proposals are the shapes of proposals the golden files pin.
var proposals = map[string]Proposal{
	"join": {
		Cluster: "west", Base: "main", BaseCommit: "1111111111111111111111111111111111111111",
		Changes: []Change{{Service: "shop/web-federated", Cluster: "east", Kind: Joined}},
		Commits: []Commit{{SHA: "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", Subject: "federation: east joins shop/web-federated"}},
	},
	"mixed": {
		Cluster: "west", Base: "main",
		Changes: []Change{
			{Service: "shop/web-federated", Cluster: "north", Kind: Left},
			{Service: "shop/api-federated", Kind: ServiceAdded},
			{Service: "shop/api-federated", Cluster: "east", Kind: Joined},
			{Service: "shop/web-federated", Kind: PortsChanged, Detail: "http 80/TCP → http 8080/TCP"},
			{Service: "shop/web-federated", Cluster: "east", Kind: Joined},
		},
		Commits: []Commit{
			{SHA: "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", Subject: "federation: east joins shop/web-federated"},
			{SHA: "b1b2c3d4e5f60718293a4b5c6d7e8f9012345678", Subject: "federation: shop/api-federated | new"},
		},
	},
	"many-services": {
		Base: "main", AllReviewed: true,
		Changes: []Change{
			{Service: "payments/checkout-federated", Cluster: "east", Kind: Joined},
			{Service: "payments/ledger-federated", Cluster: "east", Kind: Joined},
			{Service: "payments/refunds-federated", Cluster: "east", Kind: Joined},
			{Service: "payments/search-federated", Cluster: "east", Kind: Joined},
		},
	},
}

func TestBodyGolden(t *testing.T) {
	for name, p := range proposals {
		t.Run(name, func(t *testing.T) {
			got := "# " + Title(p) + "\n\n" + Body(p)
			path := filepath.Join("testdata", name+".md")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("reading golden file (run with -update to write it): %v", err)
			}
			if got != string(want) {
				t.Errorf("title and body differ from %s (run with -update after checking):\n--- got\n%s\n--- want\n%s", path, got, want)
			}
		})
	}
}

func TestTitle(t *testing.T) {
	tests := []struct {
		name    string
		changes []Change
		want    string
	}{
		{"one join", []Change{{Service: "shop/web-federated", Cluster: "east", Kind: Joined}}, "Federate shop/web-federated: east joins"},
		{"join and leave in one service",
			[]Change{{Service: "shop/web-federated", Cluster: "north", Kind: Left}, {Service: "shop/web-federated", Cluster: "east", Kind: Joined}},
			"Federate shop/web-federated: east joins, north leaves"},
		{"a new service joined by three clusters",
			[]Change{{Service: "mc-demo/bb-federated", Kind: ServiceAdded}, {Service: "mc-demo/bb-federated", Cluster: "west", Kind: Joined},
				{Service: "mc-demo/bb-federated", Cluster: "east", Kind: Joined}, {Service: "mc-demo/bb-federated", Cluster: "north", Kind: Joined}},
			"Federate mc-demo/bb-federated (new): east, north and west join"},
		{"fields and endpoints",
			[]Change{{Service: "shop/web-federated", Kind: PortsChanged, Detail: "a → b"}, {Service: "shop/web-federated", Kind: EndpointsChanged}},
			"Federate shop/web-federated: ports changed, endpoints changed"},
		{"a service removed",
			[]Change{{Service: "shop/web-federated", Kind: ServiceRemoved}, {Service: "shop/web-federated", Cluster: "east", Kind: Left}},
			"Federate shop/web-federated (removed): east leaves"},
		{"two services",
			[]Change{{Service: "shop/web-federated", Cluster: "east", Kind: Joined}, {Service: "shop/api-federated", Cluster: "east", Kind: Joined}},
			"Federate shop/api-federated, shop/web-federated: 2 changes"},
		{"too many services for a title",
			proposals["many-services"].Changes,
			"Federate payments/checkout-federated and 3 more: 4 changes"},
		{"one change of a long-named service",
			[]Change{{Service: "a-namespace-with-a-long-name/a-service-with-an-even-longer-name-federated", Cluster: "east", Kind: Joined}},
			"Federate a-namespace-with-a-long-name/a-service-with-an-even-longer-n…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Title(Proposal{Changes: tt.changes})
			if got != tt.want {
				t.Errorf("Title = %q, want %q", got, tt.want)
			}
			if len(got) > maxTitle {
				t.Errorf("Title %q is %d bytes long, more than %d", got, len(got), maxTitle)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	join := Change{Service: "shop/web-federated", Cluster: "east", Kind: Joined}
	leave := Change{Service: "shop/web-federated", Cluster: "north", Kind: Left}
	a := Proposal{Changes: []Change{join, leave}, Commits: []Commit{{SHA: "1"}}}
	b := Proposal{Changes: []Change{leave, join}, Commits: []Commit{{SHA: "2"}, {SHA: "3"}}, BaseCommit: "x"}
	if Fingerprint(a) != Fingerprint(b) {
		t.Errorf("the same changes in another order or other commits give another fingerprint: %s, %s", Fingerprint(a), Fingerprint(b))
	}
	c := Proposal{Changes: []Change{join}}
	if Fingerprint(a) == Fingerprint(c) {
		t.Errorf("different changes give the same fingerprint %s", Fingerprint(a))
	}
	body := Body(a)
	fp, closed := BodyFingerprint(body)
	if fp != Fingerprint(a) || closed {
		t.Errorf("BodyFingerprint(Body) = %q, %t; want %q, false", fp, closed, Fingerprint(a))
	}
	fp, closed = BodyFingerprint(MarkClosedByFedgen(body))
	if fp != Fingerprint(a) || !closed {
		t.Errorf("after MarkClosedByFedgen: %q, %t; want %q, true", fp, closed, Fingerprint(a))
	}
	if fp, _ := BodyFingerprint("a pull request a person wrote"); fp != "" {
		t.Errorf("a body without marker has fingerprint %q", fp)
	}
}

func TestRepositoryFromGitURL(t *testing.T) {
	tests := []struct{ url, want, wantErr string }{
		{url: "https://github.com/acme/fleet.git", want: "acme/fleet"},
		{url: "https://user:secret@github.com/acme/fleet", want: "acme/fleet"},
		{url: "ssh://git@gitlab.com/group/sub/fleet.git", want: "group/sub/fleet"},
		{url: "git@github.com:acme/fleet.git", want: "acme/fleet"},
		{url: "http://127.0.0.1:3000/fedgen-admin/fleet.git", want: "fedgen-admin/fleet"},
		{url: "https://user:secret@example.com/fleet.git", wantErr: "names no owner/repository"},
		{url: "/srv/git/fleet.git", wantErr: "names no repository"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, err := RepositoryFromGitURL(tt.url)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error %q shows the password", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("= %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
