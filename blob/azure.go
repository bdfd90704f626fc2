package blob

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	azblobblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"gocloud.dev/blob/azureblob"

	"github.com/attachkit/attachkit/driver"
)

// AzureOptions configure OpenAzure. The zero value, and a nil
// *AzureOptions, mean the defaults, which are those of gocloud's azureblob
// package: the service address and credentials come from the environment
// (AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_KEY, AZURE_STORAGE_CONNECTION_STRING,
// AZURE_STORAGE_SAS_TOKEN, AZURE_STORAGE_DOMAIN, AZURE_STORAGE_PROTOCOL,
// AZURE_STORAGE_IS_LOCAL_EMULATOR, then azidentity's default credential).
type AzureOptions struct {
	// AccountName is the storage account. The default is the
	// environment's (AZURE_STORAGE_ACCOUNT, or a connection string's).
	AccountName string
	// AccountKey is the account's shared key. When set, requests are
	// authenticated with it and SignedURL signs both upload and download
	// URLs with it. The default, the environment's credentials, signs
	// upload URLs only, and only when they hold a shared key: a download
	// URL must bind the response's type and disposition, which takes the
	// key itself (SignedURL then returns an error matching
	// driver.ErrUnimplemented).
	AccountKey string
	// Domain is the service's domain, "host" or "host:port". The default
	// is "blob.core.windows.net".
	Domain string
	// Protocol is "https" (the default) or "http".
	Protocol string
	// LocalEmulator addresses the account as the first path segment
	// ("http://127.0.0.1:10000/devstoreaccount1"), as Azurite expects. It is
	// implied by a Domain starting with "127.0.0.1" or "localhost". The
	// default is false.
	LocalEmulator bool
}

// azureParams are the parameters of azblob URLs, sorted, with gocloud's
// names: domain, localemu, protocol and storage_account set the
// AzureOptions fields Domain, LocalEmulator, Protocol and AccountName.
var azureParams = []string{"domain", "localemu", "protocol", "storage_account"}

// OpenAzure returns a Storage over the Azure Blob Storage container named
// containerName, which must exist. It makes no request: use Ping to check
// that the container is reachable.
func OpenAzure(ctx context.Context, containerName string, opts *AzureOptions) (*Storage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var o AzureOptions
	if opts != nil {
		o = *opts
	}
	if containerName == "" {
		return nil, errors.New("blob: OpenAzure needs a container name")
	}
	svc := azureblob.NewDefaultServiceURLOptions()
	if o.AccountName != "" {
		svc.AccountName = o.AccountName
	}
	if o.Domain != "" {
		svc.StorageDomain = o.Domain
	}
	if o.Protocol != "" {
		svc.Protocol = o.Protocol
	}
	svc.IsLocalEmulator = svc.IsLocalEmulator || o.LocalEmulator
	if svc.AccountName == "" {
		return nil, fmt.Errorf("blob: open azure container %q: no storage account (set AzureOptions.AccountName, the storage_account URL parameter, or AZURE_STORAGE_ACCOUNT)", containerName)
	}
	svcURL, err := azureblob.NewServiceURL(svc)
	if err != nil {
		return nil, fmt.Errorf("blob: open azure container %q: %w", containerName, err)
	}
	var (
		client *container.Client
		cred   *sas.SharedKeyCredential
	)
	if o.AccountKey != "" {
		cred, err = container.NewSharedKeyCredential(svc.AccountName, o.AccountKey)
		if err == nil {
			var containerURL string
			containerURL, err = url.JoinPath(string(svcURL), containerName)
			if err == nil {
				client, err = container.NewClientWithSharedKeyCredential(containerURL, cred, nil)
			}
		}
	} else {
		client, err = azureblob.NewDefaultClient(svcURL, azureblob.ContainerName(containerName))
	}
	if err != nil {
		return nil, fmt.Errorf("blob: open azure container %q: %w", containerName, err)
	}
	b, err := azureblob.OpenBucket(ctx, client, nil)
	if err != nil {
		return nil, fmt.Errorf("blob: open azure container %q: %w", containerName, err)
	}
	s := New(b, nil)
	if as, ok := s.signer.(*azureSigner); ok {
		as.cred = cred
	}
	return s, nil
}

// openAzureURL opens "azblob://container?domain=...&protocol=...".
func openAzureURL(ctx context.Context, u *url.URL, _ *Options) (*Storage, error) {
	name, params, err := bucketURL(u, azureParams...)
	if err != nil {
		return nil, err
	}
	o := AzureOptions{AccountName: params["storage_account"], Domain: params["domain"], Protocol: params["protocol"]}
	if o.LocalEmulator, err = boolParam(u.Scheme, params, "localemu"); err != nil {
		return nil, err
	}
	return OpenAzure(ctx, name, &o)
}

// azureClockSkew is how far before now a SAS starts, so that a service
// clock running behind ours still honours a fresh URL.
const azureClockSkew = 5 * time.Minute

// azureSigner issues service SAS URLs for single blobs.
type azureSigner struct {
	client *container.Client
	// cred is the account's shared key, or nil when the client was made
	// from the environment's credentials.
	cred *sas.SharedKeyCredential
}

// signedURL binds the blob, the permission (read for GET; create for PUT,
// which writes a new blob and never replaces one), the validity interval,
// HTTPS when the service URL uses it, and for GET the rsct and rscd
// parameters that set the response's Content-Type and
// Content-Disposition. A SAS cannot bind a request's headers, so the
// type and length of an upload are not bound: attach's confirm checks
// them. Put Blob also needs an "x-ms-blob-type: BlockBlob" header, which
// the client must send.
func (a *azureSigner) signedURL(_ context.Context, _ *Storage, key string, o *driver.SignOptions) (string, error) {
	bc := a.client.NewBlobClient(azureBlobName(key))
	now := time.Now().UTC()
	start, expiry := now.Add(-azureClockSkew), now.Add(o.Expiry)
	perms := sas.BlobPermissions{Read: true}
	if o.Method == http.MethodPut {
		perms = sas.BlobPermissions{Create: true}
	}
	if a.cred == nil {
		if o.Method == http.MethodGet {
			return "", fmt.Errorf("%w: an Azure download URL binds the response's type and disposition, which needs AzureOptions.AccountKey", driver.ErrUnimplemented)
		}
		u, err := bc.GetSASURL(perms, expiry, &azblobblob.GetSASURLOptions{StartTime: &start})
		if errors.Is(err, bloberror.MissingSharedKeyCredential) {
			return "", fmt.Errorf("%w: the Azure credentials hold no shared key to sign with", driver.ErrUnimplemented)
		}
		return u, err
	}
	parts, err := azblobblob.ParseURL(bc.URL())
	if err != nil {
		return "", err
	}
	v := sas.BlobSignatureValues{
		StartTime:     start,
		ExpiryTime:    expiry,
		Permissions:   perms.String(),
		ContainerName: parts.ContainerName,
		BlobName:      parts.BlobName,
	}
	if strings.HasPrefix(bc.URL(), "https://") {
		v.Protocol = sas.ProtocolHTTPS
	}
	if o.Method == http.MethodGet {
		v.ContentType, v.ContentDisposition = o.ContentType, o.ContentDisposition
	}
	q, err := v.SignWithSharedKey(a.cred)
	if err != nil {
		return "", err
	}
	return bc.URL() + "?" + q.Encode(), nil
}

// azureBlobName is the blob name gocloud's azureblob stores key under. Of
// the characters it escapes, valid keys (see validateKey) can hold only
// these four; the others (control characters, backslash, "../", a trailing
// "/", "__0x") are refused before a key reaches the bucket.
var azureBlobName = strings.NewReplacer(`"`, "__0x22__", "#", "__0x23__", "%", "__0x25__", "?", "__0x3f__").Replace
