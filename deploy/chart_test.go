package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"portico/internal/testenv"
)

const chart = "helm/portico"

// rendered holds the objects of one rendering of the chart, each decoded
// strictly into its Kubernetes API type: an unknown or misspelt field, or
// a value of the wrong type, fails the decoding (what kubeconform -strict
// checks against the API's schema).
type rendered struct {
	sts        *appsv1.StatefulSet
	pdb        *policyv1.PodDisruptionBudget
	services   map[string]*corev1.Service
	configMaps map[string]*corev1.ConfigMap
}

func helmTemplate(t *testing.T, helm string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(helm, append([]string{"template", "rel", chart}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func render(t *testing.T, helm string, args ...string) rendered {
	t.Helper()
	out, err := helmTemplate(t, helm, args...)
	if err != nil {
		t.Fatalf("helm template %q: %v\n%s", args, err, out)
	}
	r := rendered{services: map[string]*corev1.Service{}, configMaps: map[string]*corev1.ConfigMap{}}
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(out, -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var meta struct{ APIVersion, Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("rendered document: %v\n%s", err, doc)
		}
		var obj any
		switch meta.APIVersion + " " + meta.Kind {
		case "apps/v1 StatefulSet":
			if r.sts != nil {
				t.Fatal("two StatefulSets")
			}
			r.sts = &appsv1.StatefulSet{}
			obj = r.sts
		case "policy/v1 PodDisruptionBudget":
			r.pdb = &policyv1.PodDisruptionBudget{}
			obj = r.pdb
		case "v1 Service":
			s := &corev1.Service{}
			obj = s
			defer func() { r.services[s.Name] = s }()
		case "v1 ConfigMap":
			c := &corev1.ConfigMap{}
			obj = c
			defer func() { r.configMaps[c.Name] = c }()
		default:
			t.Fatalf("the chart renders a %s %s, which this test does not check", meta.APIVersion, meta.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("%s does not decode strictly as its API type: %v\n%s", meta.Kind, err, doc)
		}
	}
	if r.sts == nil || r.pdb == nil {
		t.Fatalf("the chart renders no StatefulSet or no PodDisruptionBudget:\n%s", out)
	}
	return r
}

func stripComments(doc string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// TestChart lints the Helm chart, renders it with its defaults and with a
// manifest and a token key, and checks what running Portico on
// Kubernetes needs: probes on the ops listener, a spool volume per
// replica, the database URL from a Secret, limits, a locked-down
// container, and a disruption budget that covers the pods.
func TestChart(t *testing.T) {
	helm := testenv.LookPath(t, "helm")
	if out, err := exec.Command(helm, "lint", "--strict", chart).CombinedOutput(); err != nil {
		t.Fatalf("helm lint --strict: %v\n%s", err, out)
	}

	t.Run("defaults", func(t *testing.T) {
		r := render(t, helm)
		checkWorkload(t, r, 3)
		if len(r.configMaps) != 0 {
			t.Errorf("without a manifest the chart renders config maps: %v", r.configMaps)
		}
		for _, a := range r.sts.Spec.Template.Spec.Containers[0].Args {
			if strings.HasPrefix(a, "--manifest") || strings.HasPrefix(a, "--token-key-file") {
				t.Errorf("without a manifest or token key, args have %s", a)
			}
		}
	})

	t.Run("manifest and token key", func(t *testing.T) {
		manifest, err := os.ReadFile("../examples/manifest.json")
		if err != nil {
			t.Fatal(err)
		}
		r := render(t, helm, "--set-file", "manifest=../examples/manifest.json",
			"--set", "tokenKey.secretName=portico-token-key", "--set", "replicas=5")
		checkWorkload(t, r, 5)
		pod := r.sts.Spec.Template.Spec
		c := pod.Containers[0]
		mounts := map[string]corev1.VolumeMount{}
		for _, m := range c.VolumeMounts {
			mounts[m.Name] = m
		}
		vols := map[string]corev1.Volume{}
		for _, v := range pod.Volumes {
			vols[v.Name] = v
		}
		// The manifest is the example, byte for byte, in a config map
		// mounted as a directory: a subPath mount never sees an update.
		var cm *corev1.ConfigMap
		if v := vols["manifest"]; v.ConfigMap != nil {
			cm = r.configMaps[v.ConfigMap.Name]
		}
		if cm == nil || strings.TrimSpace(cm.Data["manifest.json"]) != strings.TrimSpace(string(manifest)) {
			t.Fatalf("the manifest volume does not hold examples/manifest.json: %+v", vols["manifest"])
		}
		if !json.Valid([]byte(cm.Data["manifest.json"])) {
			t.Error("the manifest in the config map is not valid JSON")
		}
		m := mounts["manifest"]
		if m.SubPath != "" || !m.ReadOnly || !hasArg(c.Args, "--manifest="+path.Join(m.MountPath, "manifest.json")) {
			t.Errorf("manifest mount %+v, args %q: want a read-only directory and --manifest in it", m, c.Args)
		}
		tk, v := mounts["token-key"], vols["token-key"]
		if v.Secret == nil || v.Secret.SecretName != "portico-token-key" || !hasArg(c.Args, "--token-key-file="+path.Join(tk.MountPath, "key")) {
			t.Errorf("token key volume %+v mount %+v, args %q", v, tk, c.Args)
		}
		// The key is read by the pod's group (fsGroup), not the world.
		if mode := v.Secret.DefaultMode; mode == nil || *mode&0o040 == 0 || *mode&0o007 != 0 {
			t.Errorf("token key mode %v: want group-readable, not world-readable", mode)
		}
	})

	t.Run("no database secret", func(t *testing.T) {
		out, err := helmTemplate(t, helm, "--set", "database.secretName=")
		if err == nil || !strings.Contains(out, "database.secretName must name the Secret") {
			t.Errorf("rendering without a database secret: %v\n%s", err, out)
		}
	})
}

func hasArg(args []string, want string) bool {
	for _, a := range args {
		if a == want {
			return true
		}
	}
	return false
}

func checkWorkload(t *testing.T, r rendered, replicas int32) {
	t.Helper()
	sts := r.sts
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != replicas {
		t.Errorf("replicas = %v, want %d", sts.Spec.Replicas, replicas)
	}
	pod := sts.Spec.Template
	if !selects(sts.Spec.Selector.MatchLabels, pod.Labels) {
		t.Errorf("StatefulSet selector %v does not select its pods %v", sts.Spec.Selector.MatchLabels, pod.Labels)
	}
	if !selects(r.pdb.Spec.Selector.MatchLabels, pod.Labels) || (r.pdb.Spec.MaxUnavailable == nil && r.pdb.Spec.MinAvailable == nil) {
		t.Errorf("PodDisruptionBudget %+v does not cover the pods %v", r.pdb.Spec, pod.Labels)
	}
	if mu := r.pdb.Spec.MaxUnavailable; mu != nil && mu.IntValue() >= int(replicas) {
		t.Errorf("PodDisruptionBudget lets all %d replicas go at once", replicas)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("want one container, have %d", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}

	// Probes on the ops listener, which the container listens on.
	if ops := env["PORTICO_OPS_LISTEN"].Value; ops != ":8082" || ports["ops"] != 8082 {
		t.Errorf("ops listener %q, ops port %d: want :8082", ops, ports["ops"])
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "ops" {
			t.Errorf("%s probe %+v: want GET %s on the ops port", p.name, p.probe, p.path)
		}
	}

	// The database URL comes from a Secret; no value anywhere holds one.
	db := env["PORTICO_DATABASE"]
	if db.ValueFrom == nil || db.ValueFrom.SecretKeyRef == nil || db.ValueFrom.SecretKeyRef.Name == "" || db.Value != "" {
		t.Errorf("PORTICO_DATABASE = %+v: want it from a Secret", db)
	}
	for _, e := range c.Env {
		if strings.Contains(e.Value, "postgres://") || strings.Contains(e.Value, "postgresql://") {
			t.Errorf("%s holds a database URL in plain text", e.Name)
		}
	}

	// The spool: /data on a volume claimed per replica.
	dataDir := env["PORTICO_DATA"].Value
	var spool *corev1.VolumeMount
	for i, m := range c.VolumeMounts {
		if m.MountPath == dataDir {
			spool = &c.VolumeMounts[i]
		}
	}
	claimed := false
	for _, pvc := range sts.Spec.VolumeClaimTemplates {
		if spool != nil && pvc.Name == spool.Name {
			claimed = !pvc.Spec.Resources.Requests.Storage().IsZero()
		}
	}
	if dataDir == "" || spool == nil || !claimed {
		t.Errorf("data directory %q, mount %+v: want it on a volume claim template with a size", dataDir, spool)
	}

	// Requests and limits.
	res := c.Resources
	if res.Requests.Cpu().IsZero() || res.Requests.Memory().IsZero() || res.Limits.Memory().IsZero() {
		t.Errorf("resources %+v: want CPU and memory requests and a memory limit", res)
	}

	// Not root, nothing to escalate to, and a read-only root with a
	// writable /tmp.
	psc, sc := pod.Spec.SecurityContext, c.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod security context %+v: want a non-root user", psc)
	}
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil ||
		fmt.Sprint(sc.Capabilities.Drop) != "[ALL]" {
		t.Errorf("container security context %+v: want a read-only root, no privilege escalation, no capabilities", sc)
	}
	tmp := false
	for _, m := range c.VolumeMounts {
		for _, v := range pod.Spec.Volumes {
			if m.MountPath == "/tmp" && v.Name == m.Name && v.EmptyDir != nil {
				tmp = true
			}
		}
	}
	if !tmp {
		t.Error("no writable /tmp (an emptyDir) under the read-only root")
	}

	// Services: the governing one is headless, and every port a service
	// targets is one the container has.
	gov, ok := r.services[sts.Spec.ServiceName]
	if !ok || gov.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("governing service %q: %+v; want it headless", sts.Spec.ServiceName, gov)
	}
	for name, s := range r.services {
		if !selects(s.Spec.Selector, pod.Labels) {
			t.Errorf("service %s selects %v, not the pods %v", name, s.Spec.Selector, pod.Labels)
		}
		for _, p := range s.Spec.Ports {
			if _, ok := ports[p.TargetPort.String()]; !ok {
				t.Errorf("service %s targets port %q, which the container does not name", name, p.TargetPort.String())
			}
		}
	}
	if gw := r.services[sts.Name]; gw == nil || gw.Spec.Ports[0].TargetPort.String() != "gateway" || ports["gateway"] != 8081 {
		t.Errorf("the gateway service %q does not reach the gateway port 8081", sts.Name)
	}
}

// selects reports whether a selector's labels are all on the pod.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}
