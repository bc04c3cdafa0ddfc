import { Controller, Delete, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import { invalid, notFound } from '@berth/contracts';
import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import type { DockerRequest } from '../http/docker-request';
import { parseBool, parseFilters, parseInteger, queryString } from '../http/query-params';
import { ImagesService } from './images.service';
import { streamProgress } from './progress-stream';

const header = (req: DockerRequest, name: string) => {
  const v = req.headers[name];
  return (Array.isArray(v) ? v[0] : v) ?? '';
};
const list = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : value === undefined ? [] : [String(value)]);

/** `/images/{name}/…` where name may hold slashes (`127.0.0.1:5000/x/y:1`). */
function splitNamed(req: DockerRequest, suffixes: readonly string[]): { name: string; action: string } {
  const path = decodeURIComponent((req.url ?? '').split('?')[0]).replace(/^\/images\//, '');
  for (const s of suffixes) {
    if (s && path.endsWith(`/${s}`)) return { name: path.slice(0, -(s.length + 1)), action: s };
  }
  return { name: path, action: '' };
}

@Controller()
export class ImagesController {
  constructor(private readonly images: ImagesService) {}

  @Get('images/json')
  list(@Req() req: DockerRequest) {
    const filters = parseFilters(req.query.filters);
    const legacy = queryString(req.query.filter);
    if (legacy) filters.reference = [...(filters.reference ?? []), legacy];
    return this.images.list(parseBool(req.query.all), filters, req.apiVersion);
  }

  @Get('images/search')
  async search(@Req() req: DockerRequest) {
    const term = queryString(req.query.term);
    if (!term) throw invalid('term is required');
    return this.images.search(term, parseInteger(req.query.limit, 'limit'));
  }

  @Get('images/get')
  async saveMany(@Req() req: DockerRequest, @Res() res: ServerResponse): Promise<void> {
    await this.sendSave(list(req.query.names), res);
  }

  @Post('images/create')
  async create(@Req() req: DockerRequest, @Res() res: ServerResponse): Promise<void> {
    const fromImage = queryString(req.query.fromImage);
    const fromSrc = queryString(req.query.fromSrc);
    const platform = queryString(req.query.platform) || undefined;
    if (fromImage) {
      const tag = queryString(req.query.tag) || undefined;
      await streamProgress(this.images.config, req, res, (key) =>
        this.images.pull({ fromImage, ...(tag ? { tag } : {}), ...(platform ? { platform } : {}), registryAuth: header(req, 'x-registry-auth') }, key),
      );
      return;
    }
    if (fromSrc) {
      if (fromSrc !== '-') throw invalid('import from a URL is not supported; use fromSrc=- with the archive as the body');
      const path = await this.images.spool(req, 'import');
      try {
        await streamProgress(this.images.config, req, res, (key) =>
          this.images.import(
            {
              path,
              ...(queryString(req.query.repo) ? { repo: queryString(req.query.repo)! } : {}),
              ...(queryString(req.query.tag) ? { tag: queryString(req.query.tag)! } : {}),
              ...(queryString(req.query.message) ? { message: queryString(req.query.message)! } : {}),
              changes: list(req.query.changes),
              ...(platform ? { platform } : {}),
            },
            key,
          ),
        );
      } finally {
        await rm(path, { force: true });
      }
      return;
    }
    throw invalid('fromImage or fromSrc is required');
  }

  @Post('images/load')
  async load(@Req() req: DockerRequest, @Res() res: ServerResponse): Promise<void> {
    const path = await this.images.spool(req, 'load');
    try {
      await streamProgress(this.images.config, req, res, (key) => this.images.load(path, parseBool(req.query.quiet), key));
    } finally {
      await rm(path, { force: true });
    }
  }

  @Post('images/prune')
  @HttpCode(200)
  prune(@Req() req: DockerRequest) {
    return this.images.prune(parseFilters(req.query.filters));
  }

  @Post('auth')
  @HttpCode(200)
  async auth(@Req() req: DockerRequest) {
    const body = (req.body ?? {}) as Record<string, string>;
    const r = await this.images.login(body);
    return { Status: r.status, IdentityToken: r.identityToken ?? '' };
  }

  @Get('images/*rest')
  async getNamed(@Req() req: DockerRequest, @Res() res: ServerResponse): Promise<void> {
    const { name, action } = splitNamed(req, ['json', 'history', 'get']);
    if (action === 'json') return sendJson(res, 200, await this.images.inspect(name, req.apiVersion));
    if (action === 'history') return sendJson(res, 200, await this.images.history(name));
    if (action === 'get') return this.sendSave([name], res);
    throw notFound('page not found');
  }

  @Post('images/*rest')
  async postNamed(@Req() req: DockerRequest, @Res() res: ServerResponse): Promise<void> {
    const { name, action } = splitNamed(req, ['tag', 'push']);
    if (action === 'tag') {
      const repo = queryString(req.query.repo);
      if (!repo) throw invalid('repository name must have at least one component');
      await this.images.tag(name, repo, queryString(req.query.tag) || undefined);
      res.writeHead(201);
      res.end();
      return;
    }
    if (action === 'push') {
      const tag = queryString(req.query.tag) || undefined;
      const auth = header(req, 'x-registry-auth');
      await streamProgress(this.images.config, req, res, (key) => this.images.push(name, tag, auth, key));
      return;
    }
    throw notFound('page not found');
  }

  @Delete('images/*rest')
  async remove(@Req() req: DockerRequest, @Res() res: ServerResponse): Promise<void> {
    const { name } = splitNamed(req, []);
    sendJson(res, 200, await this.images.remove(name, parseBool(req.query.force), parseBool(req.query.noprune)));
  }

  private async sendSave(names: string[], res: ServerResponse): Promise<void> {
    if (!names.length) throw invalid('no images specified');
    const { path } = await this.images.save(names);
    try {
      const size = (await stat(path)).size;
      res.writeHead(200, { 'Content-Type': 'application/x-tar', 'Content-Length': size });
      await new Promise<void>((resolve, reject) => {
        const src = createReadStream(path);
        src.on('error', reject);
        res.on('close', () => resolve());
        src.on('end', () => resolve());
        src.pipe(res);
      });
    } finally {
      await rm(path, { force: true });
    }
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
