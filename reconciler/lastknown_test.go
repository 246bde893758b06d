package reconciler

import (
	"bytes"
	"testing"

	"github.com/fedgen/fedgen/generator"
)

// A member rebuilt from the federated file renders to the same bytes:
// standing in for an unreachable cluster's live member, its last known one
// changes nothing in Git — whether it was the source member or not.
func TestLastKnownMemberRendersTheSameFile(t *testing.T) {
	const file = "mc-demo/bb-federated.yaml"
	live := func() []generator.Cluster {
		return []generator.Cluster{
			bbMember("east", "10.23.1.43", "10.23.1.44"), // the oldest Link: the source
			bbMember("north", "10.23.0.42"),
		}
	}
	for _, down := range []string{"east", "north"} {
		t.Run(down+" rebuilt from Git", func(t *testing.T) {
			orig := render(t, live()...)
			m, ok, err := lastKnownMember(orig.Files[file], down, "west")
			if err != nil || !ok {
				t.Fatalf("lastKnownMember: ok=%v err=%v", ok, err)
			}
			clusters := live()
			for i := range clusters {
				if clusters[i].Name == down {
					clusters[i].Members = []generator.Member{m}
				}
			}
			again := render(t, clusters...)
			if !bytes.Equal(orig.Files[file], again.Files[file]) {
				t.Fatalf("the rebuilt member renders differently:\n--- live\n%s\n--- rebuilt\n%s", orig.Files[file], again.Files[file])
			}
		})
	}
	if _, ok, err := lastKnownMember(render(t, bbMember("north", "10.23.0.42")).Files[file], "east", "west"); ok || err != nil {
		t.Fatalf("a cluster that was not a member was rebuilt: ok=%v err=%v", ok, err)
	}
}
