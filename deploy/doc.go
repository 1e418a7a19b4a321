// Package deploy holds Portico's packaging, and no code: the container
// image's root file system (docker/rootfs.sh, with the Dockerfile at the
// root of the repository), a docker compose example (compose/), a Helm
// chart (helm/portico), a systemd unit (systemd/). Its tests build and
// run the image, render and check the chart, and verify the unit and the
// compose file with the tools that read them. See docs/deploy.md.
package deploy
