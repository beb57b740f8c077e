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
