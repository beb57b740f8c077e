variable "port" {
  type    = number
  default = "eighty"
}

variable "strict" {
  type     = string
  nullable = false
  default  = null
}

variable "typo" {
  type    = string
  defualt = "x"
}
