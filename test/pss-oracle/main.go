// Command pss-oracle answers, for Pod Security levels, versions and pods read as JSON lines on
// stdin, what the upstream Pod Security admission evaluator (k8s.io/pod-security-admission)
// decides: one JSON line per request on stdout, in order. SecureStack's conformance test
// (test/pod-security-conformance.test.ts) compares its own rules with these answers.
//
//	in:  {"level":"baseline|restricted","version":"latest|v1.N","pod":{...a Pod...}}
//	out: {"allowed":true|false,"forbidden":[{"reason":"...","detail":"..."}]}
//	     or {"error":"..."} for a request that cannot be judged (unknown field, bad version).
//
// Pods are judged as admission sees them, after the one API server default these checks read: a
// volume without a source becomes an emptyDir (SetDefaults_Volume). Upstream's own fixtures rely
// on it ("implicit empty dir").
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"k8s.io/utils/ptr"
)

type request struct {
	Level   string          `json:"level"`
	Version string          `json:"version"`
	Pod     json.RawMessage `json:"pod"`
}

type forbidden struct {
	Reason string `json:"reason"`
	Detail string `json:"detail"`
}

type response struct {
	Allowed   bool        `json:"allowed"`
	Forbidden []forbidden `json:"forbidden"`
	Error     string      `json:"error,omitempty"`
}

// evaluator is the interface upstream's NewEvaluator returns its (unexported) registry behind.
type evaluator = policy.Evaluator

func judge(e evaluator, line []byte) response {
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		return response{Error: fmt.Sprintf("request: %v", err)}
	}
	level, err := api.ParseLevel(req.Level)
	if err != nil {
		return response{Error: fmt.Sprintf("level %q: %v", req.Level, err)}
	}
	version, err := api.ParseVersion(req.Version)
	if err != nil {
		return response{Error: fmt.Sprintf("version %q: %v", req.Version, err)}
	}
	// Unknown fields are refused: a misspelt field in the corpus would be read by one side only.
	var pod corev1.Pod
	decoder := json.NewDecoder(bytes.NewReader(req.Pod))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&pod); err != nil {
		return response{Error: fmt.Sprintf("pod: %v", err)}
	}
	defaultVolumes(&pod.Spec)
	results := e.EvaluatePod(api.LevelVersion{Level: level, Version: version}, &pod.ObjectMeta, &pod.Spec)
	aggregate := policy.AggregateCheckResults(results)
	out := response{Allowed: aggregate.Allowed, Forbidden: []forbidden{}}
	for i, reason := range aggregate.ForbiddenReasons {
		out.Forbidden = append(out.Forbidden, forbidden{Reason: reason, Detail: aggregate.ForbiddenDetails[i]})
	}
	return out
}

// defaultVolumes does what the API server's SetDefaults_Volume does before admission.
func defaultVolumes(spec *corev1.PodSpec) {
	for i := range spec.Volumes {
		if ptr.AllPtrFieldsNil(&spec.Volumes[i].VolumeSource) {
			spec.Volumes[i].VolumeSource = corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
		}
	}
}

func main() {
	// No emulation version: the registry's newest version is what "latest" means.
	e, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pss-oracle:", err)
		os.Exit(1)
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 0, 1<<20), 16<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	encoder := json.NewEncoder(out)
	for in.Scan() {
		if len(bytes.TrimSpace(in.Bytes())) == 0 {
			continue
		}
		if err := encoder.Encode(judge(e, in.Bytes())); err != nil {
			fmt.Fprintln(os.Stderr, "pss-oracle:", err)
			os.Exit(1)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "pss-oracle:", err)
		os.Exit(1)
	}
}
