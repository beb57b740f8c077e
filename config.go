package lablink

// Config is the allocator's config.yaml: every section, key and default of
// the upstream structured config, of every release since November 2025.
// Keys a later release removed are kept with their old meaning (see
// Deprecations); LoadConfig warns when a file sets one. The zero value is
// not useful; start from DefaultConfig or load a file with LoadConfig or
// ParseConfig, which fill in the defaults for keys the file leaves out.
//
// Field tags name the YAML keys; the YAML path of a field (used in every
// error) is the keys from the top joined with dots, such as
// "machine.machine_type" or "monitoring.budget.enabled".
type Config struct {
	// DeploymentName names the deployment ("" by default). With
	// Environment it names the OpenTofu state key
	// ("{deployment_name or lablink}/{environment}/client/...").
	DeploymentName string `yaml:"deployment_name"`
	// Environment is the deployment environment ("prod" by default). The
	// ENVIRONMENT variable of the allocator's process wins over it; see
	// EnvironmentName.
	Environment string `yaml:"environment"`
	// Provider is how client VMs are provisioned: "aws" (the default,
	// through OpenTofu) or "manual" (clients register themselves).
	Provider      string        `yaml:"provider"`
	DB            DB            `yaml:"db"`
	App           App           `yaml:"app"`
	Machine       Machine       `yaml:"machine"`
	DNS           DNS           `yaml:"dns"`
	EIP           EIP           `yaml:"eip"`
	SSL           SSL           `yaml:"ssl"`
	Allocator     Allocator     `yaml:"allocator"`
	BucketName    string        `yaml:"bucket_name"`
	StartupScript StartupScript `yaml:"startup_script"`
	Monitoring    Monitoring    `yaml:"monitoring"`
	Manual        Manual        `yaml:"manual"`
}

// DB is the allocator's PostgreSQL database. Since allocator v0.2.1 only
// Password is configurable; the other keys are deprecated and keep their
// old meaning.
type DB struct {
	// DBName is the database name ("lablink_db").
	//
	// Deprecated: removed in allocator v0.2.1 (860084ca, 2026-08-17), which
	// fixes the database identity; only Password is configurable. A file
	// that sets it still loads, with a Warning.
	DBName string `yaml:"dbname"`
	// User is the database user ("lablink").
	//
	// Deprecated: removed in allocator v0.2.1 (860084ca, 2026-08-17), which
	// fixes the database identity; only Password is configurable. A file
	// that sets it still loads, with a Warning.
	User string `yaml:"user"`
	// Password is the database password ("lablink"); it prints redacted.
	Password Secret `yaml:"password"`
	// Host is the database host ("localhost").
	//
	// Deprecated: removed in allocator v0.2.1 (860084ca, 2026-08-17), which
	// fixes the database identity; only Password is configurable. A file
	// that sets it still loads, with a Warning.
	Host string `yaml:"host"`
	// Port is the database port (5432).
	//
	// Deprecated: removed in allocator v0.2.1 (860084ca, 2026-08-17), which
	// fixes the database identity; only Password is configurable. A file
	// that sets it still loads, with a Warning.
	Port int `yaml:"port"`
	// TableName is the table of client VMs ("vm_table").
	//
	// Deprecated: removed in allocator v0.2.1 (860084ca, 2026-08-17), which
	// fixes the database identity; only Password is configurable. A file
	// that sets it still loads, with a Warning.
	TableName string `yaml:"table_name"`
	// MessageChannel is the PostgreSQL notification channel ("vm_updates").
	//
	// Deprecated: removed in allocator v0.2.0 (d6029986, 2026-05-14), which
	// fixes the channel; nothing replaces it. A file that sets it still
	// loads, with a Warning.
	MessageChannel string `yaml:"message_channel"`
}

// App holds the admin credentials of the allocator web app and the AWS
// region everything runs in. The credentials default to MissingSecret, as
// upstream's since v0.1.0: an allocator must refuse to start with them
// (see IsUnresolvedSecret).
type App struct {
	AdminUser string `yaml:"admin_user"`
	// AdminPassword is the admin's password; it prints redacted.
	AdminPassword Secret `yaml:"admin_password"`
	Region        string `yaml:"region"`
	// AdminSessionTimeoutMinutes caps an admin's troubleshooting session
	// on an unassigned VM (30 by default).
	AdminSessionTimeoutMinutes int `yaml:"admin_session_timeout_minutes"`
}

// Machine describes the client VMs: EC2 instance type, AMI, the container
// image they run, and the optional data repository cloned at boot.
type Machine struct {
	MachineType string `yaml:"machine_type"`
	// Repository is "" when unset; upstream rendered a missing value as the
	// string "None".
	Repository string `yaml:"repository"`
	Image      string `yaml:"image"`
	AMIID      string `yaml:"ami_id"`
	Software   string `yaml:"software"`
	// Extension is the file extension of the software's data ("slp").
	//
	// Deprecated: removed in allocator v0.2.0 (d6029986, 2026-05-14);
	// nothing reads it and nothing replaces it. A file that sets it still
	// loads, with a Warning.
	Extension string `yaml:"extension"`
}

// DNS configures the allocator's host name (see package allocurl). Since
// allocator v0.1.0 Domain is the whole host name; AppName, Pattern,
// CustomSubdomain and CreateZone are deprecated and, when a file sets
// them, still build the host name as they did.
type DNS struct {
	Enabled          bool   `yaml:"enabled"`
	TerraformManaged bool   `yaml:"terraform_managed"`
	Domain           string `yaml:"domain"`
	ZoneID           string `yaml:"zone_id"`
	// AppName is the label "app-only" and "auto" put before Domain
	// ("lablink").
	//
	// Deprecated: removed in allocator v0.1.0 (b1c97c5a, 2025-12-08); set
	// Domain to the whole host name. A file that sets it still loads, with
	// a Warning, and the host name is built as it was.
	AppName string `yaml:"app_name"`
	// Pattern is one of "", "auto", "app-only" or "custom". The empty
	// default means Domain is the whole host name.
	//
	// Deprecated: removed in allocator v0.1.0 (b1c97c5a, 2025-12-08); set
	// Domain to the whole host name. A file that sets it still loads, with
	// a Warning, and the host name is built as it was.
	Pattern string `yaml:"pattern"`
	// CustomSubdomain is the label "custom" puts before Domain.
	//
	// Deprecated: removed in allocator v0.1.0 (b1c97c5a, 2025-12-08); set
	// Domain to the whole host name. A file that sets it still loads, with
	// a Warning, and the host name is built as it was.
	CustomSubdomain string `yaml:"custom_subdomain"`
	// CreateZone asked the allocator's own module to create the hosted
	// zone.
	//
	// Deprecated: removed in allocator v0.1.0 (b1c97c5a, 2025-12-08);
	// create the zone outside the allocator and set ZoneID. A file that
	// sets it still loads, with a Warning.
	CreateZone bool `yaml:"create_zone"`
}

// EIP chooses how the allocator gets its elastic IP.
type EIP struct {
	Strategy string `yaml:"strategy"`
	// TagName is the tag of a persistent elastic IP ("lablink-eip").
	//
	// Deprecated: removed in allocator v0.1.2 (65591ab8, 2026-03-26); the
	// tag derives from DeploymentName and Environment. A file that sets it
	// still loads, with a Warning.
	TagName string `yaml:"tag_name"`
}

// SSL chooses how the allocator terminates TLS; it decides the scheme of
// the allocator URL.
type SSL struct {
	Provider string `yaml:"provider"`
	Email    string `yaml:"email"`
	// Staging asked for Let's Encrypt's staging certificates; when true
	// the allocator URL is plain http, as it was.
	//
	// Deprecated: removed in allocator v0.1.0 (b1c97c5a, 2025-12-08); set
	// Provider to "none" for plain HTTP. A file that sets it still loads,
	// with a Warning.
	Staging        bool   `yaml:"staging"`
	CertificateARN string `yaml:"certificate_arn"`
}

// Allocator selects the allocator's own container image.
type Allocator struct {
	ImageTag string `yaml:"image_tag"`
}

// StartupScript is an optional script the client VM runs after boot.
type StartupScript struct {
	Enabled bool `yaml:"enabled"`
	// Path is the script on the allocator's file system; OpenTofu reads it
	// at plan time. A relative path is relative to the config file.
	Path string `yaml:"path"`
	// OnError is "continue" or "fail".
	OnError          string `yaml:"on_error"`
	MaxAttempts      int    `yaml:"max_attempts"`
	BaseDelaySeconds int    `yaml:"base_delay_seconds"`
	// SuccessCheck is a shell command; it reaches the VM base64-encoded,
	// so it may hold any text.
	SuccessCheck string `yaml:"success_check"`
}

// Monitoring is the client-side activity monitoring of today's allocator
// (v0.2.0 on), plus the fields of the older, removed shape (allocator
// v0.1.x: Email, Thresholds, Budget, CloudTrail), which load with a
// deprecation warning.
type Monitoring struct {
	Enabled bool `yaml:"enabled"`
	// SubjectWindowPatterns are window-title patterns; empty means the
	// client uses machine.software.
	SubjectWindowPatterns []string `yaml:"subject_window_patterns"`
	ProcessAllowlist      []string `yaml:"process_allowlist"`
	WatchDir              string   `yaml:"watch_dir"`
	SampleIntervalSeconds int      `yaml:"sample_interval_seconds"`
	PushIntervalSeconds   int      `yaml:"push_interval_seconds"`

	// Email received the alerts of the removed monitoring shape.
	//
	// Deprecated: removed in allocator v0.2.0 (413839cb, 2026-05-14) with
	// the whole alerting shape; today's monitoring (Enabled and the keys
	// above) has no alert e-mail. A file that sets it still loads, with a
	// Warning.
	Email string `yaml:"email"`
	// Thresholds are the alert thresholds of the removed shape.
	//
	// Deprecated: removed in allocator v0.2.0 (413839cb, 2026-05-14) with
	// the whole alerting shape; today's monitoring has no thresholds. A
	// file that sets it still loads, with a Warning.
	Thresholds MonitoringThresholds `yaml:"thresholds"`
	// Budget is the cost alert of the removed shape.
	//
	// Deprecated: removed in allocator v0.2.0 (413839cb, 2026-05-14) with
	// the whole alerting shape; today's monitoring has no budget. A file
	// that sets it still loads, with a Warning.
	Budget MonitoringBudget `yaml:"budget"`
	// CloudTrail is the audit-log retention of the removed shape.
	//
	// Deprecated: removed in allocator v0.2.0 (413839cb, 2026-05-14) with
	// the whole alerting shape; today's monitoring has no CloudTrail
	// settings. A file that sets it still loads, with a Warning.
	CloudTrail MonitoringCloudTrail `yaml:"cloudtrail"`
}

// MonitoringThresholds belongs to the removed monitoring shape.
type MonitoringThresholds struct {
	MaxInstancesPer5Min          int `yaml:"max_instances_per_5min"`
	MaxTerminationsPer5Min       int `yaml:"max_terminations_per_5min"`
	MaxUnauthorizedCallsPer15Min int `yaml:"max_unauthorized_calls_per_15min"`
}

// MonitoringBudget belongs to the removed monitoring shape.
type MonitoringBudget struct {
	Enabled          bool `yaml:"enabled"`
	MonthlyBudgetUSD int  `yaml:"monthly_budget_usd"`
}

// MonitoringCloudTrail belongs to the removed monitoring shape.
type MonitoringCloudTrail struct {
	RetentionDays int `yaml:"retention_days"`
}

// Manual configures provider "manual": how browsers reach clients that
// registered themselves, and how participants reach the allocator.
type Manual struct {
	// Connectivity is "lan_direct" (default), "mesh_overlay" or
	// "reverse_tunnel".
	Connectivity string `yaml:"connectivity"`
	// OverlayTailnet is the tailnet's MagicDNS suffix (example.ts.net).
	OverlayTailnet string `yaml:"overlay_tailnet"`
	// ParticipantExposure is "none" (default), "tailscale_funnel" or
	// "cloudflare_tunnel".
	ParticipantExposure string `yaml:"participant_exposure"`
	// PublicHostname is the bare host name participants open when
	// ParticipantExposure is "cloudflare_tunnel".
	PublicHostname string `yaml:"public_hostname"`
}

// DefaultConfig returns the upstream defaults for every key: today's for
// today's keys, and for each removed key the default it had when it was
// removed.
func DefaultConfig() Config {
	return Config{
		Environment:   "prod",
		Provider:      "aws",
		DB:            defaultDB(),
		App:           defaultApp(),
		Machine:       defaultMachine(),
		DNS:           DNS{TerraformManaged: true, AppName: "lablink"},
		EIP:           EIP{Strategy: "dynamic", TagName: "lablink-eip"},
		SSL:           SSL{Provider: "letsencrypt"},
		Allocator:     Allocator{ImageTag: "linux-amd64-latest"},
		BucketName:    "tf-state-lablink-allocator-bucket",
		StartupScript: defaultStartupScript(),
		Monitoring:    defaultMonitoring(),
		Manual:        Manual{Connectivity: "lan_direct", ParticipantExposure: "none"},
	}
}

// defaultDB is the db section as allocator v0.2.0 had it, before every key
// but password was fixed.
func defaultDB() DB {
	return DB{
		DBName:         "lablink_db",
		User:           "lablink",
		Password:       "lablink",
		Host:           "localhost",
		Port:           5432,
		TableName:      "vm_table",
		MessageChannel: "vm_updates",
	}
}

// defaultApp leaves the admin credentials unresolved, as upstream does.
func defaultApp() App {
	return App{
		AdminUser:                  MissingSecret,
		AdminPassword:              MissingSecret,
		Region:                     "us-west-2",
		AdminSessionTimeoutMinutes: 30,
	}
}

func defaultMachine() Machine {
	return Machine{
		MachineType: "g4dn.xlarge",
		Image:       "ghcr.io/talmolab/lablink-client-base-image:latest",
		AMIID:       "ami-00c257e12d6828491",
		Software:    "sleap",
		Extension:   "slp",
	}
}

func defaultStartupScript() StartupScript {
	return StartupScript{
		OnError:          "continue",
		MaxAttempts:      3,
		BaseDelaySeconds: 30,
	}
}

// defaultMonitoring holds today's monitoring defaults and those of the
// removed shape (thresholds, budget, cloudtrail) side by side.
func defaultMonitoring() Monitoring {
	return Monitoring{
		ProcessAllowlist:      []string{"sleap-train", "sleap-track", "sleap-label"},
		WatchDir:              "/home/client/Desktop",
		SampleIntervalSeconds: 2,
		PushIntervalSeconds:   60,
		Thresholds: MonitoringThresholds{
			MaxInstancesPer5Min:          10,
			MaxTerminationsPer5Min:       20,
			MaxUnauthorizedCallsPer15Min: 5,
		},
		Budget:     MonitoringBudget{MonthlyBudgetUSD: 500},
		CloudTrail: MonitoringCloudTrail{RetentionDays: 90},
	}
}
