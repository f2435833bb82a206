// Package buildinfo reports the version of the running binary, for both
// programs' `version` commands.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is set at build time with -ldflags "-X ...buildinfo.Version=v1.2.3".
var Version = "dev"

// String describes the binary: version, VCS revision when known, Go version.
func String(program string) string {
	rev := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				rev = " " + s.Value[:12]
			}
		}
	}
	return fmt.Sprintf("%s %s%s (%s %s/%s)", program, Version, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
