package kernel

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strings"
)

// Running returns the version of the kernel this process runs on.
func Running() (Version, error) {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return Version{}, fmt.Errorf("read running kernel version: %w", err)
	}
	return Parse(strings.TrimSpace(string(b)))
}

// Config is a kernel build configuration: CONFIG_X -> "y", "m" or a value.
// Options that are "not set" are absent.
type Config map[string]string

// Built reports whether a kernel option is built in or as a module.
func (c Config) Built(name string) bool {
	v := c[name]
	return v == "y" || v == "m"
}

// ParseConfig reads a kernel .config.
func ParseConfig(r io.Reader) (Config, error) {
	c := Config{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !strings.HasPrefix(k, "CONFIG_") {
			continue
		}
		c[k] = strings.Trim(v, `"`)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read kernel config: %w", err)
	}
	return c, nil
}

// ReadConfig reads the running kernel's configuration from /proc/config.gz or
// /boot/config-<release>. It returns an error naming both places when
// neither exists.
func ReadConfig() (Config, string, error) {
	if b, err := os.ReadFile("/proc/config.gz"); err == nil {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, "", fmt.Errorf("read /proc/config.gz: %w", err)
		}
		c, err := ParseConfig(zr)
		return c, "/proc/config.gz", err
	}
	rel, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return nil, "", fmt.Errorf("read running kernel release: %w", err)
	}
	path := "/boot/config-" + strings.TrimSpace(string(rel))
	f, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("kernel config not found in /proc/config.gz or %s", path)
	}
	defer f.Close()
	c, err := ParseConfig(f)
	return c, path, err
}
