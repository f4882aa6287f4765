/** Nova server actions (`POST /servers/{id}/action`): console output, reboot, rebuild, stop and start, with the states each allows. */
import { HttpError, Reply, Router, isObject, nowIso, readJson } from './http';
import { Boots } from './nova-boot';
import { MALFORMED, NovaRegion, invalid, requestedVersion } from './nova-api';
import { findServer, loginUsers, newAdminPass, serverJson, stateConflict, visibleImage } from './nova-servers';

export function actionRoutes(router: Router, nova: NovaRegion, boots: Boots): void {
  const { cloud, region, hooks } = nova;
  const rs = () => nova.rs();

  router.add('POST', '/v2.1/servers/:id/action', async (req, p): Promise<Reply> => {
    const ctx = cloud.authenticate(req);
    const v = requestedVersion(req);
    const s = findServer(nova, ctx, p.id);
    const body = await readJson(req.raw, MALFORMED);
    if (!isObject(body) || Object.keys(body).length !== 1) throw new HttpError(400, 'Malformed request body');
    const [name] = Object.keys(body);
    const args = body[name];
    switch (name) {
      case 'os-getConsoleOutput': {
        if (!isObject(args)) throw invalid('os-getConsoleOutput', args, "is not of type 'object'");
        const length = args.length;
        if (length !== undefined && length !== null && !Number.isInteger(Number(length))) {
          throw invalid(
            'os-getConsoleOutput/length',
            length,
            `${JSON.stringify(length)} is not of type 'integer', 'string', 'null'`,
          );
        }
        if (s.status === 'BUILD' && !s.launched_at) throw new HttpError(409, `Instance ${s.id} is not ready`);
        const lines = hooks.console?.(region, s) ?? s.console_log;
        const n = length === undefined || length === null || Number(length) < 0 ? lines.length : Number(length);
        return { status: 200, body: { output: lines.slice(Math.max(0, lines.length - n)).join('\n') + '\n' } };
      }
      case 'reboot': {
        if (!isObject(args) || !['SOFT', 'HARD', 'soft', 'hard'].includes(String(args.type))) {
          throw invalid(
            'reboot/type',
            isObject(args) ? args.type : args,
            "is not one of ['SOFT', 'HARD', 'Soft', 'Hard', 'soft', 'hard']",
          );
        }
        if (
          s.status !== 'ACTIVE' &&
          !(String(args.type).toUpperCase() === 'HARD' && (s.status === 'ERROR' || s.status === 'SHUTOFF'))
        )
          throw stateConflict(s, 'reboot');
        const hard = String(args.type).toUpperCase() === 'HARD';
        Object.assign(s, {
          status: hard ? 'HARD_REBOOT' : 'REBOOT',
          task_state: hard ? 'rebooting_hard' : 'rebooting',
          updated: nowIso(),
        });
        await hooks.stopGuest(region, s, false);
        cloud.changed();
        boots.finish(s, false);
        return { status: 202 };
      }
      case 'rebuild': {
        if (!isObject(args) || typeof args.imageRef !== 'string')
          throw invalid('rebuild', args, "'imageRef' is a required property");
        if (s.status !== 'ACTIVE' && s.status !== 'SHUTOFF' && s.status !== 'ERROR') throw stateConflict(s, 'rebuild');
        const image = await visibleImage(nova, ctx, args.imageRef);
        if (!image) throw new HttpError(400, 'Can not find requested image');
        if (image.status !== 'active') throw new HttpError(400, `Image ${image.id} is not active.`);
        const flavor = rs().flavors.find((f) => f.id === s.flavor_id);
        if (flavor && image.min_ram > flavor.ram)
          throw new HttpError(400, "Flavor's memory is too small for requested image.");
        if (flavor && flavor.disk > 0 && image.min_disk > flavor.disk)
          throw new HttpError(400, "Flavor's disk is too small for requested image.");
        if (typeof args.name === 'string') s.name = args.name;
        Object.assign(s, {
          image_id: image.id,
          login_users: loginUsers(image),
          status: 'REBUILD',
          task_state: 'rebuilding',
          fault: null,
          updated: nowIso(),
        });
        await hooks.stopGuest(region, s, true);
        cloud.changed();
        boots.finish(s, cloud.faults.takeBootError(s.name));
        cloud.onServerChange(region, s.id, 'rebuilt');
        return { status: 202, body: { server: { ...serverJson(nova, s, v, ctx), adminPass: newAdminPass() } } };
      }
      case 'os-stop': {
        if (s.status !== 'ACTIVE' && s.status !== 'ERROR') throw stateConflict(s, 'stop');
        await hooks.stopGuest(region, s, false);
        Object.assign(s, {
          status: 'SHUTOFF',
          vm_state: 'stopped',
          power_state: 4,
          task_state: null,
          updated: nowIso(),
        });
        cloud.changed();
        return { status: 202 };
      }
      case 'os-start': {
        if (s.status !== 'SHUTOFF') throw stateConflict(s, 'start');
        Object.assign(s, { task_state: 'powering-on', updated: nowIso() });
        cloud.changed();
        boots.finish(s, false);
        return { status: 202 };
      }
      default:
        throw new HttpError(400, `There is no such action: ${name}`);
    }
  });
}
