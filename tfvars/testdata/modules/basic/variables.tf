variable "name" {
  type        = string
  description = "A required string."
}

variable "count_of" {
  type    = number
  default = 3
}

variable "enabled" {
  type    = bool
  default = "true" # converted to bool, as OpenTofu does
}

variable "tags" {
  type    = map(string)
  default = {}
}

variable "zones" {
  type    = list(string)
  default = ["a", "b"]
}

variable "settings" {
  type = object({
    size    = number
    label   = optional(string, "none")
    verbose = optional(bool)
    inner = optional(object({
      depth = optional(number, 1)
    }), {})
  })
  default = { size = 1 }
}

variable "token" {
  type      = string
  sensitive = true
}

variable "region" {
  type     = string
  nullable = false
  default  = "us-west-2"
}

variable "anything" {
  description = "No type: any value."
}

variable "maybe" {
  type    = string
  default = null
}

variable "validated" {
  type      = string
  default   = "ok"
  ephemeral = false

  validation {
    condition     = length(var.validated) > 0
    error_message = "Must not be empty."
  }
}
