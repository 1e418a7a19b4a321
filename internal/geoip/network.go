package geoip

import (
	"strings"

	"portico/internal/event"
)

// cloudASNs are autonomous systems of cloud and hosting providers whose
// addresses are mostly servers rather than people.
var cloudASNs = map[uint32]bool{
	16509: true, 14618: true, 8987: true, // Amazon Web Services
	15169: true, 396982: true, 19527: true, // Google, Google Cloud
	8075: true, 8068: true, // Microsoft (Azure)
	14061: true,                             // DigitalOcean
	24940: true, 213230: true, 212317: true, // Hetzner
	16276: true,              // OVH
	63949: true,              // Akamai Connected Cloud (Linode)
	31898: true,              // Oracle Cloud
	45102: true, 37963: true, // Alibaba Cloud
	132203: true, 45090: true, // Tencent Cloud
	20473: true,              // Vultr (Choopa)
	12876: true,              // Scaleway
	51167: true,              // Contabo
	36351: true,              // IBM Cloud (SoftLayer)
	60781: true, 28753: true, // Leaseweb
	54825:  true, // Equinix Metal
	197540: true, // netcup
	8560:   true, // IONOS
	9009:   true, // M247
	135377: true, // UCloud
	55990:  true, // Huawei Cloud
	40021:  true, // Contabo US
}

// ciASNs are autonomous systems run by continuous-integration services.
// Most hosted CI runs inside the big clouds (GitHub's hosted runners in
// Azure, for example) and is only recognized there by what the client
// itself says.
var ciASNs = map[uint32]bool{
	36459: true, // GitHub
}

// ciOrgWords and cloudOrgWords recognize providers that the tables above
// miss, by the organization name in the ASN database.
var (
	ciOrgWords    = []string{"github", "travis ci", "circleci", "buildkite", "gitlab", "bitrise", "appveyor", "semaphoreci"}
	cloudOrgWords = []string{"amazon", "google cloud", "microsoft azure", "digitalocean", "hetzner", "ovh ", "ovh sas", "linode", "akamai connected cloud",
		"oracle cloud", "alibaba", "tencent cloud", "vultr", "choopa", "scaleway", "contabo", "leaseweb", "hosting", "datacenter", "data center",
		"colocation", "vps", "dedicated server", "server hosting", "cloud computing", "cloud services"}
)

// Classify says whether the network of an autonomous system belongs to a
// CI service or to a cloud or hosting provider. Unknown networks, and
// access networks of people (ISPs, universities, companies), are
// NetworkNone.
func Classify(asn uint32, org string) event.Network {
	if ciASNs[asn] {
		return event.NetworkCI
	}
	if cloudASNs[asn] {
		return event.NetworkCloud
	}
	if org == "" {
		return event.NetworkNone
	}
	low := strings.ToLower(org)
	for _, w := range ciOrgWords {
		if strings.Contains(low, w) {
			return event.NetworkCI
		}
	}
	for _, w := range cloudOrgWords {
		if strings.Contains(low, w) {
			return event.NetworkCloud
		}
	}
	return event.NetworkNone
}
