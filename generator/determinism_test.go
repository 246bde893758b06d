package generator

import (
	"bytes"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// shuffle reorders every list of the input that carries no meaning:
// namespaces, clusters, members, slices, endpoints and slice ports.
func shuffle(r *rand.Rand, in *Input) {
	mix := r.Shuffle
	mix(len(in.Namespaces), reflect.Swapper(in.Namespaces))
	mix(len(in.Clusters), reflect.Swapper(in.Clusters))
	for ci := range in.Clusters {
		members := in.Clusters[ci].Members
		mix(len(members), reflect.Swapper(members))
		for _, m := range members {
			mix(len(m.Slices), reflect.Swapper(m.Slices))
			for _, s := range m.Slices {
				mix(len(s.Endpoints), reflect.Swapper(s.Endpoints))
				mix(len(s.Ports), reflect.Swapper(s.Ports))
			}
		}
	}
}

// sameOutput compares two renders: files byte for byte, and results.
func sameOutput(t *testing.T, got, want *Output) {
	t.Helper()
	if !slices.Equal(slices.Sorted(maps.Keys(got.Files)), slices.Sorted(maps.Keys(want.Files))) {
		t.Fatalf("files = %v, want %v", slices.Sorted(maps.Keys(got.Files)), slices.Sorted(maps.Keys(want.Files)))
	}
	for file, data := range want.Files {
		if !bytes.Equal(got.Files[file], data) {
			t.Errorf("%s differs:\n%s", file, firstDiff(got.Files[file], data))
		}
	}
	if !reflect.DeepEqual(got.Services, want.Services) {
		t.Errorf("Services differ:\n got %s\nwant %s", toJSON(got.Services), toJSON(want.Services))
	}
	if !reflect.DeepEqual(got.Members, want.Members) {
		t.Errorf("Members differ:\n got %s\nwant %s", toJSON(got.Members), toJSON(want.Members))
	}
}

func TestDeterminism(t *testing.T) {
	want := mustRender(t, largeCase())
	t.Run("rendering twice gives the same bytes", func(t *testing.T) {
		sameOutput(t, mustRender(t, largeCase()), want)
	})
	t.Run("rendering does not modify its input", func(t *testing.T) {
		in := largeCase()
		before := toJSON(in)
		mustRender(t, in)
		if after := toJSON(in); after != before {
			t.Errorf("input changed by Render")
		}
	})
	t.Run("shuffled input order gives the same bytes", func(t *testing.T) {
		for seed := range uint64(25) {
			in := largeCase()
			shuffle(rand.New(rand.NewPCG(seed, 42)), &in)
			sameOutput(t, mustRender(t, in), want)
		}
	})
	t.Run("rendering services one by one and assembling gives the same output", func(t *testing.T) {
		in := largeCase()
		groups := Group(in)
		outs := make([]*ServiceOutput, len(groups))
		for i, g := range groups {
			// Reverse order: Assemble sorts.
			outs[len(groups)-1-i] = RenderService(in.Options, g)
		}
		got, err := Assemble(in.Options, outs)
		if err != nil {
			t.Fatal(err)
		}
		sameOutput(t, got, want)
	})
}
