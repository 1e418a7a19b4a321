// Package telemetry serves the rules that collect usage data rather than
// distribute files: telemetry-v1 (JSON events posted by an application),
// pixel-v1 (a 1×1 image embedded in documentation) and scarf-js-v1
// (install events posted by the scarf-js npm package).
package telemetry
