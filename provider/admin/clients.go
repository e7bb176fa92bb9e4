package admin

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/qrid/qrid/provider/audit"
	"github.com/qrid/qrid/storage"
)

// ClientInfo is a registered client as the admin API shows it: the metadata as
// stored, defaults included, plus RFC 7591 §3.2.1's registration fields.
type ClientInfo struct {
	ClientMetadata
	// ClientIDIssuedAt is when the client was registered, in Unix seconds.
	ClientIDIssuedAt int64 `json:"client_id_issued_at"`
	// ClientSecret is set only in the answer that issued it; qrid keeps a digest.
	ClientSecret string `json:"client_secret,omitempty"`
	// ClientSecretExpiresAt is 0 (never) for clients that have a secret, nil for
	// public clients.
	ClientSecretExpiresAt *int64 `json:"client_secret_expires_at,omitempty"`
}

// clientSecretBytes is the length of generated client secrets (256 bits, DESIGN §6).
const clientSecretBytes = 32

func clientWhat(id string) string { return fmt.Sprintf("Client %q", id) }

// CreateClient registers a client. The answer carries the client secret, shown this
// once, unless the client is public (token_endpoint_auth_method "none").
func (s *Service) CreateClient(ctx context.Context, m ClientMetadata) (ClientInfo, error) {
	md, e := normalize(m, s.Dev)
	if e != nil {
		return ClientInfo{}, e
	}
	if md.ClientID == "" {
		md.ClientID = randomBase64(16)
	}
	now := s.now()
	c := toStorageClient(md)
	c.CreatedAt, c.UpdatedAt = now, now
	var secret string
	if md.TokenEndpointAuthMethod != AuthNone {
		secret = randomBase64(clientSecretBytes)
		d, err := s.digestSecret(secret)
		if err != nil {
			return ClientInfo{}, err
		}
		c.SecretDigest = d
	}
	err := s.Store.CreateClient(ctx, c)
	s.clientChanged(c.ID) // an unknown ID may be cached as unknown
	if err != nil {
		return ClientInfo{}, storeError(err, clientWhat(c.ID), "create")
	}
	s.Audit.Record(ctx, storage.AuditEvent{Type: audit.ClientCreated, ClientID: c.ID, Detail: "name=" + c.Name})
	info := clientInfo(c)
	info.ClientSecret = secret
	return info, nil
}

// GetClient returns the client registered as id, without its secret.
func (s *Service) GetClient(ctx context.Context, id string) (ClientInfo, error) {
	c, err := s.Store.GetClient(ctx, id)
	if err != nil {
		return ClientInfo{}, storeError(err, clientWhat(id), "get")
	}
	return clientInfo(c), nil
}

// ListClients returns every client in registration order, without secrets.
func (s *Service) ListClients(ctx context.Context) ([]ClientInfo, error) {
	cs, err := s.Store.ListClients(ctx)
	if err != nil {
		return nil, storeError(err, "clients", "list")
	}
	out := make([]ClientInfo, 0, len(cs))
	for _, c := range cs {
		out = append(out, clientInfo(c))
	}
	return out, nil
}

// UpdateClient replaces the metadata of client id with m (omitted fields return to
// their defaults). m.ClientID may be empty or id. The secret is kept, except that
// switching to "none" deletes it and switching a public client to a secret-based
// method issues one, returned in the answer.
func (s *Service) UpdateClient(ctx context.Context, id string, m ClientMetadata) (ClientInfo, error) {
	if m.ClientID != "" && m.ClientID != id {
		return ClientInfo{}, invalidMetadata("client_id %q does not match the client being updated; a client_id cannot be changed.", m.ClientID)
	}
	md, e := normalize(m, s.Dev)
	if e != nil {
		return ClientInfo{}, e
	}
	md.ClientID = id
	now := s.now()
	candidate := randomBase64(clientSecretBytes)
	var issued string
	c, err := s.Store.UpdateClient(ctx, id, func(old storage.Client) (storage.Client, error) {
		issued = ""
		c := toStorageClient(md)
		c.CreatedAt, c.UpdatedAt = old.CreatedAt, now
		switch {
		case md.TokenEndpointAuthMethod == AuthNone:
			c.SecretDigest = nil
		case len(old.SecretDigest) > 0:
			c.SecretDigest = slices.Clone(old.SecretDigest)
		default:
			d, err := s.digestSecret(candidate)
			if err != nil {
				return old, err
			}
			issued, c.SecretDigest = candidate, d
		}
		return c, nil
	})
	s.clientChanged(id)
	if err != nil {
		return ClientInfo{}, storeError(err, clientWhat(id), "update")
	}
	info := clientInfo(c)
	info.ClientSecret = issued
	return info, nil
}

// DeleteClient removes client id with its tokens and consents.
func (s *Service) DeleteClient(ctx context.Context, id string) error {
	err := s.Store.DeleteClient(ctx, id)
	s.clientChanged(id)
	if err != nil {
		return storeError(err, clientWhat(id), "delete")
	}
	s.Audit.Record(ctx, storage.AuditEvent{Type: audit.ClientDeleted, ClientID: id})
	return nil
}

// RotateClientSecret issues a new secret for client id; the old one stops working
// at once on this node, and on other nodes once their client cache lets go of it
// (package clientcache). Public clients have no secret and get an invalid_request
// Error.
func (s *Service) RotateClientSecret(ctx context.Context, id string) (ClientInfo, error) {
	secret := randomBase64(clientSecretBytes)
	now := s.now()
	c, err := s.Store.UpdateClient(ctx, id, func(old storage.Client) (storage.Client, error) {
		if old.TokenEndpointAuthMethod == AuthNone {
			return old, newError(http.StatusBadRequest, CodeInvalidRequest,
				"Client %q is public (token_endpoint_auth_method none) and has no secret to rotate.", id)
		}
		d, err := s.digestSecret(secret)
		if err != nil {
			return old, err
		}
		old.SecretDigest, old.UpdatedAt = d, now
		return old, nil
	})
	s.clientChanged(id)
	if err != nil {
		return ClientInfo{}, storeError(err, clientWhat(id), "rotate the secret of")
	}
	s.Audit.Record(ctx, storage.AuditEvent{Type: audit.ClientSecretRotated, ClientID: id})
	info := clientInfo(c)
	info.ClientSecret = secret
	return info, nil
}

func toStorageClient(m ClientMetadata) storage.Client {
	return storage.Client{
		ID:                       m.ClientID,
		Name:                     m.ClientName,
		RedirectURIs:             m.RedirectURIs,
		PostLogoutRedirectURIs:   m.PostLogoutRedirectURIs,
		GrantTypes:               m.GrantTypes,
		ResponseTypes:            m.ResponseTypes,
		Scopes:                   strings.Fields(m.Scope),
		TokenEndpointAuthMethod:  m.TokenEndpointAuthMethod,
		LogoURI:                  m.LogoURI,
		ClientURI:                m.ClientURI,
		IDTokenSignedResponseAlg: m.IDTokenSignedResponseAlg,
		FirstParty:               m.FirstParty,
	}
}

// clientInfo is the view of a stored client, without a secret.
func clientInfo(c storage.Client) ClientInfo {
	info := ClientInfo{
		ClientMetadata: ClientMetadata{
			ClientID:                 c.ID,
			ClientName:               c.Name,
			RedirectURIs:             nonNil(c.RedirectURIs),
			PostLogoutRedirectURIs:   slices.Clone(c.PostLogoutRedirectURIs),
			GrantTypes:               nonNil(c.GrantTypes),
			ResponseTypes:            nonNil(c.ResponseTypes),
			Scope:                    strings.Join(c.Scopes, " "),
			TokenEndpointAuthMethod:  c.TokenEndpointAuthMethod,
			LogoURI:                  c.LogoURI,
			ClientURI:                c.ClientURI,
			IDTokenSignedResponseAlg: c.IDTokenSignedResponseAlg,
			FirstParty:               c.FirstParty,
		},
		ClientIDIssuedAt: c.CreatedAt.Unix(),
	}
	if info.IDTokenSignedResponseAlg == "" {
		info.IDTokenSignedResponseAlg = "ES256"
	}
	if len(c.SecretDigest) > 0 {
		var never int64
		info.ClientSecretExpiresAt = &never
	}
	return info
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}
