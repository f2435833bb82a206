// Package config reads the online service's configuration: one TOML file,
// then environment overrides (DATABASE_URL and CRYPTOASSETS_*), then
// validation that names the offending key and how to fix it. Unknown keys are
// refused, so a misspelt setting is never silently ignored.
package config
