// Command trivydb writes a small Trivy vulnerability DB (trivy.db + metadata.json) for the tests.
//
//	go run . -out <dir> [-expected <expected.json to compare with>]
//
// It goes through trivy-db's own build pipeline (vulndb.Build: insert, optimize, cleanup) with one
// extra vulnerability source, "securestack-fixture", whose Update writes the advisories below with
// trivy-db's own DB operations into the same buckets the real sources use ("debian 12",
// "alpine 3.19", "npm::GitHub Security Advisory npm") and vulnerability details under the real
// source ids (nvd, debian, alpine, ghsa). So Trivy finds them exactly as it finds real ones.
//
// The advisories cover exactly the fixture packages of the test images:
//
//	Debian 12:   openssl 3.0.11-1~deb12u1, libssl3 3.0.11-1~deb12u1 (source openssl),
//	             zlib1g 1:1.2.13.dfsg-1 (source zlib)
//	Alpine 3.19: busybox 1.36.1-r2, musl 1.2.4-r1
//	npm:         lodash 4.17.20, minimist 1.2.5
//
// Ids of the form CVE-YYYY-NNNN with a real year are real CVEs with their real titles and NVD
// CVSS v3 scores; their fixed versions are chosen for the fixture packages and need not match
// the distributions' real ones. Ids CVE-2099-* are made up (no such CVEs exist) and say so in
// their titles.
//
// With -expected it also prints the findings Trivy must report (the single source the tests
// assert against lives in test/fixtures/scan/expected.json; build-trivydb.sh checks that the
// two agree, so the DB and the expectations cannot drift apart).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/aquasecurity/trivy-db/pkg/db"
	"github.com/aquasecurity/trivy-db/pkg/metadata"
	"github.com/aquasecurity/trivy-db/pkg/types"
	"github.com/aquasecurity/trivy-db/pkg/vulndb"
	"github.com/aquasecurity/trivy-db/pkg/vulnsrc"
	"github.com/aquasecurity/trivy-db/pkg/vulnsrc/bucket"
	"github.com/aquasecurity/trivy-db/pkg/vulnsrc/vulnerability"
)

// The DB claims to be built at this fixed time and to be valid for a century, so Trivy never
// wants to update it, with or without --skip-db-update.
var (
	updatedAt      = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	updateInterval = 100 * 365 * 24 * time.Hour
)

type ecosystem string

const (
	debian ecosystem = "debian"
	alpine ecosystem = "alpine"
	npm    ecosystem = "npm"
)

type advisory struct {
	ID       string
	Eco      ecosystem
	Source   string   // source package (Debian, Alpine origin) or npm package name
	Binaries []string // the installed packages that report it (OS packages built from Source)
	Fixed    string   // "" = no fix
	Status   types.Status
	// npm only: version ranges in npm constraint syntax
	Vulnerable string
	Severity   types.Severity
	Score      float64
	Vector     string
	Title      string
	// Published is the advisory's publication day (YYYY-MM-DD, UTC): NVD's for real CVEs, made up
	// for CVE-2099-*. Trivy reports it as the vulnerability's published date, and compliance patch
	// windows (maxFixAgeDays) measure from it.
	Published string
}

var installed = map[string]string{
	"openssl": "3.0.11-1~deb12u1", "libssl3": "3.0.11-1~deb12u1", "zlib1g": "1:1.2.13.dfsg-1",
	"busybox": "1.36.1-r2", "musl": "1.2.4-r1",
	"lodash": "4.17.20", "minimist": "1.2.5",
}

const (
	cvssCritical98 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
)

var advisories = []advisory{
	// ---- Debian 12 ----
	{ID: "CVE-2024-5535", Published: "2024-06-27", Eco: debian, Source: "openssl", Binaries: []string{"libssl3", "openssl"}, Fixed: "3.0.14-1~deb12u1",
		Severity: types.SeverityCritical, Score: 9.1, Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:H",
		Title: "openssl: SSL_select_next_proto buffer overread"},
	{ID: "CVE-2023-5363", Published: "2023-10-25", Eco: debian, Source: "openssl", Binaries: []string{"libssl3", "openssl"}, Fixed: "3.0.11-1~deb12u2",
		Severity: types.SeverityHigh, Score: 7.5, Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
		Title: "openssl: Incorrect cipher key and IV length processing"},
	{ID: "CVE-2023-5678", Published: "2023-11-06", Eco: debian, Source: "openssl", Binaries: []string{"libssl3", "openssl"}, Fixed: "3.0.13-1~deb12u1",
		Severity: types.SeverityMedium, Score: 5.3, Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L",
		Title: "openssl: Generating excessively long X9.42 DH keys or checking excessively long X9.42 DH keys or parameters may be very slow"},
	{ID: "CVE-2099-0101", Published: "2025-03-03", Eco: debian, Source: "openssl", Binaries: []string{"libssl3", "openssl"}, Fixed: "3.0.15-1~deb12u1",
		Severity: types.SeverityLow, Score: 3.1, Vector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N",
		Title: "fixture: made-up low-severity openssl issue (not a real CVE)"},
	{ID: "CVE-2023-45853", Published: "2023-10-14", Eco: debian, Source: "zlib", Binaries: []string{"zlib1g"}, Status: types.StatusWillNotFix,
		Severity: types.SeverityCritical, Score: 9.8, Vector: cvssCritical98,
		Title: "zlib: integer overflow and resultant heap-based buffer overflow in zipOpenNewFileInZip4_6"},

	// ---- Alpine 3.19 ----
	{ID: "CVE-2022-48174", Published: "2023-08-22", Eco: alpine, Source: "busybox", Binaries: []string{"busybox"}, Fixed: "1.36.1-r3",
		Severity: types.SeverityCritical, Score: 9.8, Vector: cvssCritical98,
		Title: "busybox: stack overflow vulnerability in ash.c leads to arbitrary code execution"},
	{ID: "CVE-2025-26519", Published: "2025-02-14", Eco: alpine, Source: "musl", Binaries: []string{"musl"}, Fixed: "1.2.4-r3",
		Severity: types.SeverityHigh, Score: 8.1, Vector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H",
		Title: "musl: iconv EUC-KR decoder out-of-bounds write"},
	{ID: "CVE-2023-42363", Published: "2023-11-27", Eco: alpine, Source: "busybox", Binaries: []string{"busybox"}, Fixed: "1.36.1-r16",
		Severity: types.SeverityMedium, Score: 5.5, Vector: "CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H",
		Title: "busybox: use-after-free in awk"},
	{ID: "CVE-2099-0201", Published: "2025-04-01", Eco: alpine, Source: "musl", Binaries: []string{"musl"}, Fixed: "1.2.4-r2",
		Severity: types.SeverityLow, Score: 2.5, Vector: "CVSS:3.1/AV:L/AC:H/PR:L/UI:R/S:U/C:L/I:N/A:N",
		Title: "fixture: made-up low-severity musl issue (not a real CVE)"},
	{ID: "CVE-2099-0202", Published: "2025-05-05", Eco: alpine, Source: "busybox", Binaries: []string{"busybox"},
		Severity: types.SeverityMedium, Score: 4.4, Vector: "CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:N/I:L/A:L",
		Title: "fixture: made-up unfixed busybox issue (not a real CVE)"},

	// ---- npm ----
	{ID: "CVE-2021-44906", Published: "2022-03-17", Eco: npm, Source: "minimist", Binaries: []string{"minimist"}, Fixed: "1.2.6", Vulnerable: "<1.2.6",
		Severity: types.SeverityCritical, Score: 9.8, Vector: cvssCritical98,
		Title: "Prototype Pollution in minimist"},
	{ID: "CVE-2021-23337", Published: "2021-02-15", Eco: npm, Source: "lodash", Binaries: []string{"lodash"}, Fixed: "4.17.21", Vulnerable: "<4.17.21",
		Severity: types.SeverityHigh, Score: 7.2, Vector: "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H",
		Title: "Command Injection in lodash"},
	{ID: "CVE-2020-28500", Published: "2021-02-15", Eco: npm, Source: "lodash", Binaries: []string{"lodash"}, Fixed: "4.17.21", Vulnerable: "<4.17.21",
		Severity: types.SeverityMedium, Score: 5.3, Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L",
		Title: "Regular Expression Denial of Service (ReDoS) in lodash"},
	{ID: "CVE-2099-0301", Published: "2025-06-06", Eco: npm, Source: "lodash", Binaries: []string{"lodash"}, Vulnerable: ">=4.0.0",
		Severity: types.SeverityLow, Score: 3.7, Vector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:L",
		Title: "fixture: made-up unfixed low-severity lodash issue (not a real CVE)"},
}

var (
	debianSource = types.DataSource{ID: vulnerability.Debian, Name: "Debian Security Tracker", URL: "https://salsa.debian.org/security-tracker-team/security-tracker"}
	alpineSource = types.DataSource{ID: vulnerability.Alpine, Name: "Alpine Secdb", URL: "https://secdb.alpinelinux.org/"}
	ghsaNpm      = types.DataSource{ID: vulnerability.GHSA, Name: "GitHub Security Advisory npm", URL: "https://github.com/advisories?query=type%3Areviewed+ecosystem%3Anpm"}
)

const fixtureSourceID types.SourceID = "securestack-fixture"

type fixtureSource struct{ dbc db.Operation }

func (fixtureSource) Name() types.SourceID { return fixtureSourceID }

func (s fixtureSource) Update(string) error {
	npmBucket, err := bucket.NewNpm(ghsaNpm)
	if err != nil {
		return err
	}
	return s.dbc.BatchUpdate(func(tx *bolt.Tx) error {
		for _, a := range advisories {
			var platform string
			var source types.DataSource
			var adv types.Advisory
			switch a.Eco {
			case debian:
				platform, source = bucket.NewDebian("12").Name(), debianSource
				adv = types.Advisory{FixedVersion: a.Fixed}
				if a.Fixed == "" {
					adv.Status = a.Status
				}
			case alpine:
				platform, source = bucket.NewAlpine("3.19").Name(), alpineSource
				adv = types.Advisory{FixedVersion: a.Fixed}
			case npm:
				platform, source = npmBucket.Name(), ghsaNpm
				adv = types.Advisory{VulnerableVersions: []string{a.Vulnerable}}
				if a.Fixed != "" {
					adv.PatchedVersions = []string{a.Fixed}
				}
			}
			if err := s.dbc.PutDataSource(tx, platform, source); err != nil {
				return err
			}
			if err := s.dbc.PutAdvisoryDetail(tx, a.ID, a.Source, []string{platform}, adv); err != nil {
				return err
			}
			if err := s.dbc.PutVulnerabilityID(tx, a.ID); err != nil {
				return err
			}
			// NVD: score, vector, title (the first source trivy-db takes a title from). Trivy's
			// CycloneDX output carries no title, only the description, so the description is the
			// title too: whatever a consumer shows as the title is the expected one.
			nvd := types.VulnerabilityDetail{
				ID: a.ID, CvssScoreV3: a.Score, CvssVectorV3: a.Vector, SeverityV3: a.Severity,
				Title: a.Title, Description: a.Title,
				References:    []string{"https://nvd.nist.gov/vuln/detail/" + a.ID},
				PublishedDate: publishedAt(a),
			}
			if err := s.dbc.PutVulnerabilityDetail(tx, a.ID, vulnerability.NVD, nvd); err != nil {
				return err
			}
			// The vendor's own severity, which Trivy prefers for findings from that vendor's data.
			vendor := types.VulnerabilityDetail{ID: a.ID, Severity: a.Severity}
			if err := s.dbc.PutVulnerabilityDetail(tx, a.ID, source.ID, vendor); err != nil {
				return err
			}
		}
		return nil
	})
}

// Finding is one entry of test/fixtures/scan/expected.json.
type Finding struct {
	ID               string  `json:"id"`
	Package          string  `json:"package"`
	InstalledVersion string  `json:"installedVersion"`
	FixedVersion     string  `json:"fixedVersion,omitempty"`
	Severity         string  `json:"severity"`
	Score            float64 `json:"score"`
	Title            string  `json:"title"`
	// Published as the operator stores it (JavaScript's Date.toISOString of Trivy's date).
	Published string `json:"published"`
}

// publishedAt is the advisory's publication day as a time; the list below always sets one.
func publishedAt(a advisory) *time.Time {
	t, err := time.Parse(time.DateOnly, a.Published)
	if err != nil {
		panic(fmt.Sprintf("%s: Published %q is not YYYY-MM-DD", a.ID, a.Published))
	}
	return &t
}

func expected() map[string][]Finding {
	out := map[string][]Finding{}
	for _, a := range advisories {
		for _, b := range a.Binaries {
			out[string(a.Eco)] = append(out[string(a.Eco)], Finding{
				ID: a.ID, Package: b, InstalledVersion: installed[b], FixedVersion: a.Fixed,
				Severity: a.Severity.String(), Score: a.Score, Title: a.Title,
				Published: publishedAt(a).UTC().Format("2006-01-02T15:04:05.000Z"),
			})
		}
	}
	for _, list := range out {
		sort.Slice(list, func(i, j int) bool {
			if list[i].Package != list[j].Package {
				return list[i].Package < list[j].Package
			}
			return list[i].ID < list[j].ID
		})
	}
	return out
}

func run(out, expectedFile string, printExpected bool) error {
	if printExpected {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(expected())
	}
	if expectedFile != "" {
		want, err := os.ReadFile(expectedFile)
		if err != nil {
			return err
		}
		var parsed map[string][]Finding
		if err := json.Unmarshal(want, &parsed); err != nil {
			return fmt.Errorf("%s: %w", expectedFile, err)
		}
		a, _ := json.Marshal(parsed)
		b, _ := json.Marshal(expected())
		if !bytes.Equal(a, b) {
			return fmt.Errorf("%s does not match the advisories in test/env/trivydb/main.go; regenerate it with: go run . -print-expected > %s", expectedFile, expectedFile)
		}
	}
	if out == "" {
		return nil
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := db.Init(out); err != nil {
		return err
	}
	defer db.Close()
	b := vulndb.New("", out, updateInterval,
		vulndb.WithClock(clocktesting.NewFakeClock(updatedAt)),
		vulndb.WithVulnSrcs(map[types.SourceID]vulnsrc.VulnSrc{fixtureSourceID: fixtureSource{dbc: db.Config{}}}))
	if err := b.Build([]string{string(fixtureSourceID)}); err != nil {
		return err
	}
	// Build leaves DownloadedAt empty (it is filled in by a download); with it set, Trivy treats
	// the DB as fresh even without --skip-db-update instead of calling it corrupted.
	mc := metadata.NewClient(out)
	md, err := mc.Get()
	if err != nil {
		return err
	}
	md.DownloadedAt = updatedAt
	if err := mc.Update(md); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "trivydb: wrote %s (schema %d, %d advisories)\n",
		filepath.Join(out, "trivy.db"), md.Version, len(advisories))
	return nil
}

func main() {
	out := flag.String("out", "", "folder to write trivy.db and metadata.json into (replaced)")
	exp := flag.String("expected", "", "expected.json that must list exactly the findings of these advisories")
	printExp := flag.Bool("print-expected", false, "print the expected findings as JSON and exit")
	flag.Parse()
	if err := run(*out, *exp, *printExp); err != nil {
		fmt.Fprintln(os.Stderr, "trivydb:", err)
		os.Exit(1)
	}
}
