package main

import (
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"runtime/debug"
	"strings"
	"time"
)

// SPDX 2.3 JSON, the subset an SBOM of Go modules needs.
type spdxDocument struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      spdxCreationInfo   `json:"creationInfo"`
	DocumentDescribes []string           `json:"documentDescribes"`
	Packages          []spdxPackage      `json:"packages"`
	Relationships     []spdxRelationship `json:"relationships"`
}

type spdxCreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	Name             string            `json:"name"`
	SPDXID           string            `json:"SPDXID"`
	VersionInfo      string            `json:"versionInfo"`
	Supplier         string            `json:"supplier"`
	DownloadLocation string            `json:"downloadLocation"`
	FilesAnalyzed    bool              `json:"filesAnalyzed"`
	LicenseConcluded string            `json:"licenseConcluded"`
	LicenseDeclared  string            `json:"licenseDeclared"`
	CopyrightText    string            `json:"copyrightText"`
	Checksums        []spdxChecksum    `json:"checksums,omitempty"`
	ExternalRefs     []spdxExternalRef `json:"externalRefs"`
	Comment          string            `json:"comment,omitempty"`
}

type spdxChecksum struct {
	Algorithm     string `json:"algorithm"`
	ChecksumValue string `json:"checksumValue"`
}

type spdxExternalRef struct {
	ReferenceCategory string `json:"referenceCategory"`
	ReferenceType     string `json:"referenceType"`
	ReferenceLocator  string `json:"referenceLocator"`
}

type spdxRelationship struct {
	SPDXElementID      string `json:"spdxElementId"`
	RelationshipType   string `json:"relationshipType"`
	RelatedSPDXElement string `json:"relatedSpdxElement"`
}

// writeSBOM writes an SPDX document of the Go modules built into the
// binary, read from the build information Go embeds in it (what `go
// version -m` prints), so it lists exactly what was linked.
func writeSBOM(binPath, out string, m metadata, platform string) error {
	bin, err := os.ReadFile(binPath)
	if err != nil {
		return err
	}
	info, err := buildinfo.ReadFile(binPath)
	if err != nil {
		return fmt.Errorf("reading the build information of %s: %w", binPath, err)
	}
	doc := sbomOf(info, m, platform, bin)
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(b, '\n'), 0o644)
}

var notSPDXIDChar = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

func sbomOf(info *debug.BuildInfo, m metadata, platform string, bin []byte) spdxDocument {
	sum := sha256.Sum256(bin)
	binSum := hex.EncodeToString(sum[:])
	mainID := "SPDXRef-Package-fedgen"
	doc := spdxDocument{
		SPDXVersion: "SPDX-2.3",
		DataLicense: "CC0-1.0",
		SPDXID:      "SPDXRef-DOCUMENT",
		Name:        "fedgen-" + m.version + "-" + platform,
		// Unique per binary, and the same for the same binary.
		DocumentNamespace: m.source + "/sbom/" + tagFor(m.version) + "/" + platform + "/" + binSum,
		CreationInfo: spdxCreationInfo{
			Created:  m.created.UTC().Format(time.RFC3339),
			Creators: []string{"Tool: fedgen-hack-image", "Organization: fedgen"},
		},
		DocumentDescribes: []string{mainID},
	}
	main := spdxPackage{
		Name: info.Main.Path, SPDXID: mainID, VersionInfo: m.version,
		DownloadLocation: m.source,
		Checksums:        []spdxChecksum{{Algorithm: "SHA256", ChecksumValue: binSum}},
		ExternalRefs:     []spdxExternalRef{purl(info.Main.Path, m.version)},
		Comment:          "the fedgen binary for " + platform + ", commit " + m.commit + ", built with " + info.GoVersion,
	}
	doc.Packages = append(doc.Packages, withDefaults(main))
	stdlib := spdxPackage{
		Name: "stdlib", SPDXID: "SPDXRef-Package-stdlib", VersionInfo: info.GoVersion,
		DownloadLocation: "NOASSERTION",
		ExternalRefs:     []spdxExternalRef{purl("stdlib", info.GoVersion)},
	}
	doc.Packages = append(doc.Packages, withDefaults(stdlib))
	doc.Relationships = append(doc.Relationships,
		spdxRelationship{"SPDXRef-DOCUMENT", "DESCRIBES", mainID},
		spdxRelationship{mainID, "DEPENDS_ON", stdlib.SPDXID})
	seen := map[string]bool{}
	for _, dep := range info.Deps {
		if dep.Replace != nil {
			dep = dep.Replace
		}
		id := "SPDXRef-Package-" + strings.Trim(notSPDXIDChar.ReplaceAllString(dep.Path+"-"+dep.Version, "-"), "-")
		for base, n := id, 2; seen[id]; n++ {
			id = fmt.Sprintf("%s-%d", base, n)
		}
		seen[id] = true
		p := spdxPackage{
			Name: dep.Path, SPDXID: id, VersionInfo: dep.Version,
			DownloadLocation: "NOASSERTION", // the purl names the module
			ExternalRefs:     []spdxExternalRef{purl(dep.Path, dep.Version)},
		}
		if dep.Sum != "" {
			// Go's own checksum (h1:, SHA-256 of the module's file list);
			// SPDX has no algorithm name for it.
			p.Comment = "go.sum " + dep.Sum
		}
		doc.Packages = append(doc.Packages, withDefaults(p))
		doc.Relationships = append(doc.Relationships, spdxRelationship{mainID, "DEPENDS_ON", id})
	}
	return doc
}

func withDefaults(p spdxPackage) spdxPackage {
	p.Supplier = "NOASSERTION"
	p.LicenseConcluded, p.LicenseDeclared, p.CopyrightText = "NOASSERTION", "NOASSERTION", "NOASSERTION"
	return p
}

// purl is a Go module's package URL (github.com/package-url/purl-spec).
func purl(path, version string) spdxExternalRef {
	return spdxExternalRef{ReferenceCategory: "PACKAGE-MANAGER", ReferenceType: "purl",
		ReferenceLocator: "pkg:golang/" + path + "@" + version}
}
