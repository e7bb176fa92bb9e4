# syntax=docker/dockerfile:1

# Build a static qrid binary.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/qrid ./cmd/qrid

# Run it on a minimal base as a non-root user.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/qrid /usr/local/bin/qrid
USER nonroot:nonroot
EXPOSE 8080 8081
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["qrid", "healthcheck"]
ENTRYPOINT ["qrid"]
CMD ["serve"]
