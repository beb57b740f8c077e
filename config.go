package lablink

// Config is the allocator's config.yaml: every section, key and default of
// the upstream structured config. The zero value is not useful; start from
// DefaultConfig or load a file with LoadConfig or ParseConfig, which fill in
// the defaults for keys the file leaves out.
//
// Field tags name the YAML keys; the YAML path of a field (used in every
// error) is the section key and the field key joined with a dot, such as
// "machine.machine_type".
type Config struct {
	DB            DB            `yaml:"db"`
	App           App           `yaml:"app"`
	Machine       Machine       `yaml:"machine"`
	DNS           DNS           `yaml:"dns"`
	EIP           EIP           `yaml:"eip"`
	SSL           SSL           `yaml:"ssl"`
	Allocator     Allocator     `yaml:"allocator"`
	BucketName    string        `yaml:"bucket_name"`
	StartupScript StartupScript `yaml:"startup_script"`
}

// DB is the allocator's PostgreSQL connection and its VM table.
type DB struct {
	DBName         string `yaml:"dbname"`
	User           string `yaml:"user"`
	Password       string `yaml:"password"`
	Host           string `yaml:"host"`
	Port           int    `yaml:"port"`
	TableName      string `yaml:"table_name"`
	MessageChannel string `yaml:"message_channel"`
}

// App holds the admin credentials of the allocator web app and the AWS
// region everything runs in.
type App struct {
	AdminUser     string `yaml:"admin_user"`
	AdminPassword string `yaml:"admin_password"`
	Region        string `yaml:"region"`
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
	Extension  string `yaml:"extension"`
}

// DNS configures the allocator's host name (see package allocurl).
type DNS struct {
	Enabled          bool   `yaml:"enabled"`
	TerraformManaged bool   `yaml:"terraform_managed"`
	Domain           string `yaml:"domain"`
	ZoneID           string `yaml:"zone_id"`
	AppName          string `yaml:"app_name"`
	// Pattern is one of "", "auto", "app-only" or "custom". The empty
	// default means Domain is the whole host name.
	Pattern         string `yaml:"pattern"`
	CustomSubdomain string `yaml:"custom_subdomain"`
	CreateZone      bool   `yaml:"create_zone"`
}

// EIP chooses how the allocator gets its elastic IP.
type EIP struct {
	Strategy string `yaml:"strategy"`
	TagName  string `yaml:"tag_name"`
}

// SSL chooses how the allocator terminates TLS; it decides the scheme of
// the allocator URL.
type SSL struct {
	Provider       string `yaml:"provider"`
	Email          string `yaml:"email"`
	Staging        bool   `yaml:"staging"`
	CertificateARN string `yaml:"certificate_arn"`
}

// Allocator selects the allocator's own container image.
type Allocator struct {
	ImageTag string `yaml:"image_tag"`
}

// StartupScript is an optional script the client VM runs after boot.
type StartupScript struct {
	Enabled bool   `yaml:"enabled"`
	Path    string `yaml:"path"`
	// OnError is "continue" or "fail".
	OnError          string `yaml:"on_error"`
	MaxAttempts      int    `yaml:"max_attempts"`
	BaseDelaySeconds int    `yaml:"base_delay_seconds"`
	// SuccessCheck is a shell command; it reaches the VM base64-encoded,
	// so it may hold any text.
	SuccessCheck string `yaml:"success_check"`
}

// DefaultConfig returns the upstream defaults for every key.
func DefaultConfig() Config {
	return Config{
		DB: DB{
			DBName:         "lablink_db",
			User:           "lablink",
			Password:       "lablink",
			Host:           "localhost",
			Port:           5432,
			TableName:      "vm_table",
			MessageChannel: "vm_updates",
		},
		App: App{
			AdminUser:     "admin",
			AdminPassword: "admin_password",
			Region:        "us-west-2",
		},
		Machine: Machine{
			MachineType: "g4dn.xlarge",
			Image:       "ghcr.io/talmolab/lablink-client-base-image:latest",
			AMIID:       "ami-00c257e12d6828491",
			Software:    "sleap",
			Extension:   "slp",
		},
		DNS: DNS{
			TerraformManaged: true,
			AppName:          "lablink",
		},
		EIP: EIP{
			Strategy: "dynamic",
			TagName:  "lablink-eip",
		},
		SSL: SSL{
			Provider: "letsencrypt",
		},
		Allocator:  Allocator{ImageTag: "linux-amd64-latest"},
		BucketName: "tf-state-lablink-allocator-bucket",
		StartupScript: StartupScript{
			OnError:          "continue",
			MaxAttempts:      3,
			BaseDelaySeconds: 30,
		},
	}
}
