package ec2fake

import "encoding/xml"

// The XML shapes below follow the element names the SDK's ec2query
// deserializer looks for (lists are <item> elements, names are lowerCamel).

type describeInstanceTypesResponse struct {
	XMLName       xml.Name        `xml:"DescribeInstanceTypesResponse"`
	XMLNS         string          `xml:"xmlns,attr"`
	RequestID     string          `xml:"requestId"`
	InstanceTypes instanceTypeSet `xml:"instanceTypeSet"`
}

// instanceTypeSet is its own element so an empty answer still carries
// <instanceTypeSet/>, as EC2's does.
type instanceTypeSet struct {
	Items []instanceTypeItem `xml:"item"`
}

type instanceTypeItem struct {
	InstanceType string   `xml:"instanceType"`
	GPUInfo      *gpuInfo `xml:"gpuInfo,omitempty"`
}

type gpuInfo struct {
	GPUs           []gpuDevice `xml:"gpus>item"`
	TotalMemoryMiB int         `xml:"totalGpuMemoryInMiB"`
}

type gpuDevice struct {
	Name         string    `xml:"name"`
	Manufacturer string    `xml:"manufacturer"`
	Count        int       `xml:"count"`
	MemoryInfo   gpuMemory `xml:"memoryInfo"`
}

type gpuMemory struct {
	SizeInMiB int `xml:"sizeInMiB"`
}

type errorResponse struct {
	XMLName   xml.Name   `xml:"Response"`
	Errors    []apiError `xml:"Errors>Error"`
	RequestID string     `xml:"RequestID"`
}

type apiError struct {
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

type describeInstancesResponse struct {
	XMLName      xml.Name       `xml:"DescribeInstancesResponse"`
	XMLNS        string         `xml:"xmlns,attr"`
	RequestID    string         `xml:"requestId"`
	Reservations reservationSet `xml:"reservationSet"`
	NextToken    string         `xml:"nextToken,omitempty"`
}

// reservationSet is its own element so an empty answer still carries
// <reservationSet/>, as EC2's does.
type reservationSet struct {
	Items []reservationItem `xml:"item"`
}

type reservationItem struct {
	ReservationID string       `xml:"reservationId"`
	OwnerID       string       `xml:"ownerId"`
	GroupSet      struct{}     `xml:"groupSet"`
	Instances     instancesSet `xml:"instancesSet"`
}

type instancesSet struct {
	Items []instanceItem `xml:"item"`
}

type instanceItem struct {
	InstanceID   string        `xml:"instanceId"`
	ImageID      string        `xml:"imageId"`
	State        instanceState `xml:"instanceState"`
	PrivateIP    string        `xml:"privateIpAddress,omitempty"`
	InstanceType string        `xml:"instanceType"`
	LaunchTime   string        `xml:"launchTime"`
	Tags         *tagSet       `xml:"tagSet,omitempty"`
}

type instanceState struct {
	Code int    `xml:"code"`
	Name string `xml:"name"`
}

type tagSet struct {
	Items []tagItem `xml:"item"`
}

type tagItem struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}
