package attach

import (
	"mime"
	"sort"
	"strings"
)

// MB is the unit policy sizes are written in: a mebibyte, 1<<20 bytes.
const MB = 1 << 20

// TypeRule allows one MIME type up to a size.
type TypeRule struct {
	// MIMEType is an exact type ("image/png") or a family ("image/*").
	MIMEType string
	// MaxSize is the largest allowed size in bytes; 0 means the policy's
	// MaxSize.
	MaxSize int64
}

// Policy says which files may be stored: which types, and how large. It
// is a plain value the application configures; the zero Policy allows
// nothing.
type Policy struct {
	// Types lists the allowed types. An exact rule wins over a family rule.
	Types []TypeRule
	// MaxSize caps every type; 0 means no cap beyond the type rules.
	MaxSize int64
}

// DefaultPolicy allows common images (JPEG, PNG, GIF, WebP, SVG), videos
// (MP4, QuickTime, WebM, AVI) and PDF, 50 MB each.
func DefaultPolicy() Policy {
	types := []string{
		"image/jpeg", "image/png", "image/gif", "image/webp", "image/svg+xml",
		"video/mp4", "video/quicktime", "video/webm", "video/x-msvideo",
		"application/pdf",
	}
	p := Policy{MaxSize: 50 * MB}
	for _, t := range types {
		p.Types = append(p.Types, TypeRule{MIMEType: t, MaxSize: 50 * MB})
	}
	return p
}

// Allow returns the size limit for a MIME type, and whether the type is
// allowed at all. Parameters such as "; charset=utf-8" are ignored.
func (p Policy) Allow(mimeType string) (maxSize int64, ok bool) {
	t := baseType(mimeType)
	if t == "" {
		return 0, false
	}
	var family *TypeRule
	for i := range p.Types {
		r := &p.Types[i]
		rt := strings.ToLower(r.MIMEType)
		if rt == t {
			return p.limit(r.MaxSize), true
		}
		if strings.HasSuffix(rt, "/*") && strings.HasPrefix(t, strings.TrimSuffix(rt, "*")) && family == nil {
			family = r
		}
	}
	if family != nil {
		return p.limit(family.MaxSize), true
	}
	return 0, false
}

func (p Policy) limit(ruleMax int64) int64 {
	switch {
	case ruleMax <= 0:
		return p.MaxSize
	case p.MaxSize > 0 && p.MaxSize < ruleMax:
		return p.MaxSize
	}
	return ruleMax
}

// Limits returns the policy as a client sees it: the allowed types (sorted)
// and the largest size any of them may have.
func (p Policy) Limits() FileLimits {
	l := FileLimits{AllowedTypes: []string{}}
	for _, r := range p.Types {
		l.AllowedTypes = append(l.AllowedTypes, strings.ToLower(r.MIMEType))
		if m := p.limit(r.MaxSize); m > l.MaxSize {
			l.MaxSize = m
		}
	}
	sort.Strings(l.AllowedTypes)
	return l
}

// baseType returns the lower-cased media type without parameters, or ""
// when s is not a valid media type.
func baseType(s string) string {
	if len(s) > 255 {
		return ""
	}
	t, _, err := mime.ParseMediaType(s)
	if err != nil || !strings.Contains(t, "/") {
		return ""
	}
	return strings.ToLower(t)
}

// Kind is a broad class of file, for filtering and icons.
type Kind string

// Kinds.
const (
	KindDocument     Kind = "document"
	KindImage        Kind = "image"
	KindVideo        Kind = "video"
	KindAudio        Kind = "audio"
	KindSpreadsheet  Kind = "spreadsheet"
	KindPresentation Kind = "presentation"
	KindText         Kind = "text"
	KindArchive      Kind = "archive"
	KindFont         Kind = "font"
	KindApplication  Kind = "application"
	KindUnknown      Kind = "unknown"
)

var kindByType = map[string]Kind{
	"application/pdf":    KindDocument,
	"application/msword": KindDocument,
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document": KindDocument,
	"application/vnd.oasis.opendocument.text":                                 KindDocument,
	"application/rtf":          KindDocument,
	"application/vnd.ms-excel": KindSpreadsheet,
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": KindSpreadsheet,
	"application/vnd.oasis.opendocument.spreadsheet":                    KindSpreadsheet,
	"text/csv":                      KindSpreadsheet,
	"application/vnd.ms-powerpoint": KindPresentation,
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": KindPresentation,
	"application/vnd.oasis.opendocument.presentation":                           KindPresentation,
	"application/zip":              KindArchive,
	"application/gzip":             KindArchive,
	"application/x-tar":            KindArchive,
	"application/x-7z-compressed":  KindArchive,
	"application/vnd.rar":          KindArchive,
	"application/x-rar-compressed": KindArchive,
	"application/x-bzip2":          KindArchive,
	"application/x-xz":             KindArchive,
	"application/json":             KindText,
	"application/xml":              KindText,
}

// KindOf classifies a MIME type.
func KindOf(mimeType string) Kind {
	t := baseType(mimeType)
	if t == "" {
		return KindUnknown
	}
	if k, ok := kindByType[t]; ok {
		return k
	}
	switch major, _, _ := strings.Cut(t, "/"); major {
	case "image":
		return KindImage
	case "video":
		return KindVideo
	case "audio":
		return KindAudio
	case "text":
		return KindText
	case "font":
		return KindFont
	case "application":
		return KindApplication
	}
	return KindUnknown
}
