package allocurl_test

//lint:file-ignore SA1019 the examples show the host names the removed keys still build

import (
	"errors"
	"fmt"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/allocurl"
)

func ExampleDerive() {
	cfg := lablink.DefaultConfig() // ssl.provider letsencrypt, dns.app_name lablink
	cfg.DNS.Enabled = true
	cfg.DNS.Domain = "example.com"
	cfg.DNS.Pattern = "auto"

	u, err := allocurl.Derive(cfg, allocurl.Input{
		AllocatorIP: "52.40.142.146",
		Environment: " Staging ",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(u)
	fmt.Println(u.Port)
	// Output:
	// https://staging.lablink.example.com
	// 443
}

func ExampleDerive_override() {
	cfg := lablink.DefaultConfig()
	cfg.SSL.Provider = "none"

	u, err := allocurl.Derive(cfg, allocurl.Input{
		AllocatorIP: "52.40.142.146",
		FQDN:        "HTTPS://Prod.LabLink.Sleap.AI:8443/",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s %s %d\n", u.Scheme, u.Host, u.Port)
	fmt.Println(u)

	_, err = allocurl.Derive(cfg, allocurl.Input{FQDN: "https://prod.lablink.sleap.ai/api"})
	fmt.Println(errors.Is(err, allocurl.ErrInvalidFQDN))
	fmt.Println(err)
	// Output:
	// https prod.lablink.sleap.ai 8443
	// https://prod.lablink.sleap.ai:8443
	// true
	// allocurl: ALLOCATOR_FQDN: invalid FQDN "https://prod.lablink.sleap.ai/api": path not allowed
}

func ExampleDerive_ipv6() {
	cfg := lablink.DefaultConfig()
	cfg.SSL.Provider = "none"

	u, err := allocurl.Derive(cfg, allocurl.Input{AllocatorIP: "2001:DB8::1"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(u.Host)
	fmt.Println(u)
	// Output:
	// 2001:db8::1
	// http://[2001:db8::1]
}

func ExampleDerive_noHost() {
	_, err := allocurl.Derive(lablink.DefaultConfig(), allocurl.Input{})
	fmt.Println(errors.Is(err, allocurl.ErrNoHost))
	var ie *allocurl.InputError
	if errors.As(err, &ie) {
		fmt.Println(ie.Input)
	}
	// Output:
	// true
	// ALLOCATOR_PUBLIC_IP
}

func ExampleScheme() {
	fmt.Println(allocurl.Scheme(lablink.SSL{Provider: "acm"}))
	fmt.Println(allocurl.Scheme(lablink.SSL{Provider: "letsencrypt", Staging: true}))
	fmt.Printf("%q\n", allocurl.Scheme(lablink.SSL{Provider: "digicert"}))
	// Output:
	// https
	// http
	// ""
}

func ExampleURL_String() {
	fmt.Println(allocurl.URL{Scheme: "https", Host: "x.org", Port: 443})
	fmt.Println(allocurl.URL{Scheme: "https", Host: "x.org", Port: 8443})
	fmt.Println(allocurl.URL{Scheme: "http", Host: "2001:db8::1", Port: 8080})
	// Output:
	// https://x.org
	// https://x.org:8443
	// http://[2001:db8::1]:8080
}
