/**
 * Errors raised by the OpenStack client. Each one carries the exit code dibctl
 * used for the situation and the cloud's own words; none of them holds a token,
 * a password, a secret or the HTTP library's request object.
 */
import { DibctlError, ExitCode } from '../errors';

export type ServiceType = 'identity' | 'image' | 'compute' | 'network';

const SERVICE_LABEL: Record<ServiceType, string> = {
  identity: 'Keystone',
  image: 'Glance',
  compute: 'Nova',
  network: 'Neutron',
};

function serviceLabel(service: ServiceType): string {
  return SERVICE_LABEL[service];
}

/** Exit code for an HTTP error answered by a service (dibctl's table). */
function exitCodeFor(service: ServiceType, status: number, imageRequested = false): number {
  if (service === 'identity' && status === 401) return ExitCode.AUTH;
  if (service === 'image' && status === 404 && imageRequested) return ExitCode.IMAGE_NOT_FOUND;
  if (service === 'compute' && status === 400) return ExitCode.NOVA_BAD_REQUEST;
  if (service === 'compute' && status === 403) return ExitCode.NOVA_FORBIDDEN;
  return ExitCode.GENERIC;
}

interface HttpErrorDetails {
  service: ServiceType;
  method: string;
  /** URL without credentials or query string. */
  url: string;
  status: number;
  requestId?: string;
  serverMessage: string;
  /** Set when the request named one image (get, update, delete, upload ...). */
  imageId?: string;
}

/** The service answered with an error status. */
export class OpenStackHttpError extends DibctlError {
  readonly service: ServiceType;
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly requestId?: string;
  readonly serverMessage: string;

  constructor(d: HttpErrorDetails, exitCode = exitCodeFor(d.service, d.status, d.imageId !== undefined)) {
    const rid = d.requestId ? ` (request ${d.requestId})` : '';
    const said = d.serverMessage ? `: ${d.serverMessage}` : '';
    super(`${serviceLabel(d.service)} answered ${d.status} to ${d.method} ${d.url}${said}${rid}`, exitCode);
    this.service = d.service;
    this.method = d.method;
    this.url = d.url;
    this.status = d.status;
    this.requestId = d.requestId;
    this.serverMessage = d.serverMessage;
  }
}

/** Keystone refused the credentials (exit 20). */
export class AuthenticationError extends OpenStackHttpError {}

/** Glance does not know the requested image (exit 50). */
export class ImageNotFoundError extends OpenStackHttpError {
  readonly imageId: string;
  constructor(d: HttpErrorDetails & { imageId: string }) {
    super(d, ExitCode.IMAGE_NOT_FOUND);
    this.imageId = d.imageId;
  }
}

/** Nova refused the request as malformed or impossible (exit 60). */
export class NovaBadRequestError extends OpenStackHttpError {}

/** Nova refused the request for lack of rights (exit 61). */
export class NovaForbiddenError extends OpenStackHttpError {}

/** Builds the most specific error class for an HTTP error answer. */
export function httpError(d: HttpErrorDetails): OpenStackHttpError {
  if (d.service === 'identity' && d.status === 401) return new AuthenticationError(d);
  if (d.service === 'image' && d.status === 404 && d.imageId !== undefined) {
    return new ImageNotFoundError({ ...d, imageId: d.imageId });
  }
  if (d.service === 'compute' && d.status === 400) return new NovaBadRequestError(d);
  if (d.service === 'compute' && d.status === 403) return new NovaForbiddenError(d);
  return new OpenStackHttpError(d);
}

/** The service could not be reached at all (DNS, refused, TLS, timeout). */
export class OpenStackConnectionError extends DibctlError {
  constructor(
    readonly service: ServiceType,
    readonly method: string,
    readonly url: string,
    readonly reason: string,
  ) {
    super(`Cannot reach ${serviceLabel(service)} for ${method} ${url}: ${reason}`, ExitCode.GENERIC);
  }
}

/** The catalog has no endpoint for a service type / interface / region. */
export class EndpointNotFoundError extends DibctlError {
  constructor(
    readonly serviceType: string,
    detail: string,
  ) {
    super(`No ${serviceType} endpoint in the service catalog: ${detail}`, ExitCode.GENERIC);
  }
}

/** The credentials cannot be used as given (missing field, unsupported combination). */
export class CredentialsError extends DibctlError {
  constructor(message: string) {
    super(message, ExitCode.CREDENTIALS);
  }
}

/** A response did not have the shape the API reference documents. */
export class UnexpectedResponseError extends DibctlError {
  constructor(
    readonly service: ServiceType,
    detail: string,
  ) {
    super(`${serviceLabel(service)} sent an unexpected answer: ${detail}`, ExitCode.GENERIC);
  }
}

/** The image upload did not finish within its time limit. */
export class UploadTimeoutError extends DibctlError {
  constructor(
    readonly imageId: string,
    readonly limitMs: number,
    readonly bytesSent: number,
  ) {
    super(
      `Upload of image ${imageId} did not finish within ${Math.round(limitMs / 1000)} s (${bytesSent} bytes sent)`,
      ExitCode.GENERIC,
    );
  }
}

/**
 * An upload whose data stopped moving: no byte sent for the stall limit (a
 * Glance, proxy or network that hangs), or, once every byte was sent, no
 * answer and no finished image within it. Another attempt may get through.
 */
export class UploadStalledError extends DibctlError {
  constructor(
    readonly imageId: string,
    readonly stallMs: number,
    readonly bytesSent: number,
    readonly total: number,
    readonly phase: 'sending' | 'answer' | 'finishing',
  ) {
    const secs = stallMs % 1000 ? (stallMs / 1000).toFixed(1) : String(stallMs / 1000);
    const what =
      phase === 'sending'
        ? `no data moved for ${secs} s after ${bytesSent} of ${total} bytes were sent`
        : phase === 'answer'
          ? `Glance did not answer for ${secs} s after all ${bytesSent} bytes were sent`
          : `Glance did not finish the image within ${secs} s after all ${bytesSent} bytes were sent`;
    super(`Upload of image ${imageId} stalled: ${what} (glance.upload_stall_timeout)`, ExitCode.GENERIC);
  }
}

/** Glance's checksum for uploaded data differs from what was sent. */
export class ChecksumMismatchError extends DibctlError {
  constructor(
    readonly imageId: string,
    readonly algorithm: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      `Image ${imageId}: Glance reports ${algorithm} ${actual}, but the uploaded data has ${expected}`,
      ExitCode.GENERIC,
    );
  }
}

/** Glance ended the image in a state that is not usable (killed, deleted ...). */
export class ImageStateError extends DibctlError {
  constructor(
    readonly imageId: string,
    readonly status: string,
    detail: string,
  ) {
    super(`Image ${imageId} is '${status}': ${detail}`, ExitCode.GENERIC);
  }
}

/** A lookup by name or id found nothing or found several objects. */
export class LookupError extends DibctlError {
  constructor(message: string, exitCode: number = ExitCode.GENERIC) {
    super(message, exitCode);
  }
}
