/**
 * How long an upload may take, as the config files say: `upload` and `run`
 * have no total limit unless glance.upload_timeout is set (dibctl had none), a
 * test's upload keeps dibctl's 360 s, and glance.upload_stall_timeout bounds an
 * attempt whose data stops moving.
 */
import { loadTestPlan, loadUploadPlan } from '../../config';
import { TempTree } from './helpers';

const KEYSTONE =
  '  keystone: {auth_url: "https://keystone.example:5000/v3", username: u, password: p, project_name: x}\n';

const IMAGES = `plain:
  filename: plain.qcow2
  tests: {environment_name: lab}
limited:
  filename: limited.qcow2
  glance: {upload_timeout: 900, upload_stall_timeout: 30}
  tests: {environment_name: lab}
unlimited:
  filename: unlimited.qcow2
  glance: {upload_timeout: 0}
  tests: {environment_name: lab}
`;

const TEST = `lab:
${KEYSTONE}  nova: {flavor: m1.tiny, nics: [{net_id: 5a0a1b2c-3d4e-4f50-8a9b-0c1d2e3f4a5b}]}
`;

const UPLOAD = `prod:
${KEYSTONE}slow-link:
${KEYSTONE}  glance: {upload_stall_timeout: 600}
`;

describe('upload time limits from the config', () => {
  let tree: TempTree;
  beforeAll(() => {
    tree = new TempTree();
    tree.write('images.yaml', IMAGES);
    tree.write('test.yaml', TEST);
    tree.write('upload.yaml', UPLOAD);
  });
  afterAll(() => tree.remove());
  const opts = () => ({ cwd: tree.root, systemDir: tree.path('no-etc') });

  test('upload has no total limit without upload_timeout, and a stall limit of 120 s', () => {
    const plan = loadUploadPlan('plain', 'prod', opts());
    expect(plan.glance.uploadTimeout).toBeUndefined();
    expect(plan.glance.uploadStallTimeout).toBe(120);
  });

  test('upload_timeout, when set, is the limit; the larger stall limit of image and environment wins', () => {
    expect(loadUploadPlan('limited', 'prod', opts()).glance).toMatchObject({
      uploadTimeout: 900,
      uploadStallTimeout: 30,
    });
    expect(loadUploadPlan('limited', 'slow-link', opts()).glance.uploadStallTimeout).toBe(600);
    expect(loadUploadPlan('unlimited', 'prod', opts()).glance.uploadTimeout).toBeUndefined();
  });

  test("a test's upload keeps dibctl's 360 s unless upload_timeout says otherwise (0: none)", () => {
    expect(loadTestPlan('plain', opts()).timeouts.uploadTimeout).toBe(360);
    expect(loadTestPlan('limited', opts()).timeouts.uploadTimeout).toBe(900);
    expect(loadTestPlan('unlimited', opts()).timeouts.uploadTimeout).toBe(0);
    expect(loadTestPlan('plain', opts()).glance.uploadStallTimeout).toBe(120);
  });
});
