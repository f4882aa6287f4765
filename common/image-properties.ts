/**
 * Glance properties by which dibctl orders the publishes of one image name in
 * one project. Workflow code sets the first one, activities read and write all.
 */

/**
 * When the publish that made an image completed its upload: milliseconds since
 * the epoch by the Temporal server's clock (the publish workflow's time), so
 * publishes through different workers compare on one clock. `pending` while
 * the upload runs: such an image is another publish's work in progress, which
 * no other publish may obsolete.
 */
export const PUBLISHED_AT_PROPERTY = 'dibctl_published_at';
export const PUBLISH_PENDING = 'pending';

/** The image (by id) whose publish obsoleted this one; a retried step finds its own work by it. */
export const OBSOLETED_BY_PROPERTY = 'dibctl_obsoleted_by';
