package reconciler

import (
	"strings"
	"testing"

	"github.com/fedgen/fedgen/internal/gitrepo"
	"github.com/fedgen/fedgen/reconciler/members"
)

func TestRepairMessage(t *testing.T) {
	long := "clusters/" + strings.Repeat("x", 60) + "/federation"
	tests := []struct {
		name, folder string
		change       gitrepo.Change
		subject      string
		lines        []string
	}{
		{
			name:    "one file changed outside",
			folder:  "clusters/west/federation",
			change:  gitrepo.Change{Modified: []string{"mc/web-federated.yaml"}},
			subject: "restore clusters/west/federation: 1 file changed outside fedgen",
			lines:   []string{"put back mc/web-federated.yaml (changed outside fedgen)"},
		},
		{
			name:   "edited, deleted and added",
			folder: "clusters/west/federation",
			change: gitrepo.Change{
				Added:    []string{"mc/api-federated.yaml"},
				Modified: []string{"mc/web-federated.yaml"},
				Deleted:  []string{"mc/extra.yaml"},
			},
			subject: "restore clusters/west/federation: 3 files changed outside fedgen",
			lines: []string{
				"put back mc/api-federated.yaml (deleted outside fedgen)",
				"put back mc/web-federated.yaml (changed outside fedgen)",
				"removed mc/extra.yaml (added outside fedgen)",
			},
		},
		{
			name:    "a folder too long for the subject",
			folder:  long,
			change:  gitrepo.Change{Modified: []string{"a.yaml", "b.yaml"}},
			subject: "restore fedgen's folder: 2 files changed outside fedgen",
			lines:   []string{"Someone else changed " + long + ", the folder fedgen owns, on the branch"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := repairMessage(tc.folder, tc.change, []string{"east", "west"})
			lines := strings.Split(strings.TrimRight(msg, "\n"), "\n")
			if lines[0] != tc.subject {
				t.Errorf("subject %q, want %q", lines[0], tc.subject)
			}
			if len(lines[0]) > maxSubject {
				t.Errorf("subject of %d bytes", len(lines[0]))
			}
			for _, want := range tc.lines {
				if !strings.Contains(msg, "\n"+want+"\n") {
					t.Errorf("no line %q in:\n%s", want, msg)
				}
			}
			if last := lines[len(lines)-1]; last != ClustersTrailer+": east,west" {
				t.Errorf("trailer %q", last)
			}
		})
	}
}

func TestServedClustersAndLinks(t *testing.T) {
	states := map[string]members.ClusterState{
		"west":  {Name: "west"},
		"north": {Name: "north", Link: "north"},
		"east":  {Name: "east", Link: "east", Withdrawn: true},
	}
	if got := strings.Join(servedClusters(states), ","); got != "north,west" {
		t.Errorf("served clusters %s, want north,west (a withdrawn cluster is not served)", got)
	}
	if got := strings.Join(linksOf(states), ","); got != "east,north" {
		t.Errorf("links %s, want east,north (the local cluster has none)", got)
	}
}
