import {
  type HistoryEntryView,
  ImagePatterns,
  type ImagesSummary,
  type ImageView,
  type ImportImageReply,
  type ImportImageRequest,
  type InspectImageRequest,
  type ListImagesRequest,
  type LoadImagesReply,
  type LoadImagesRequest,
  type LoginReply,
  type LoginRequest,
  type PruneImagesReply,
  type PruneImagesRequest,
  type PullImageReply,
  type PullImageRequest,
  type PushImageReply,
  type PushImageRequest,
  type RemoveImageReply,
  type RemoveImageRequest,
  type ResolvedImageView,
  type ResolveImageRequest,
  type SaveImagesReply,
  type SaveImagesRequest,
  SystemPatterns,
  type TagImageRequest,
} from '@berth/contracts';
import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { ImagesService } from './images.service';

/** Transport entry points only: decode and delegate. */
@Controller()
export class ImagesController {
  constructor(private readonly images: ImagesService) {}

  @MessagePattern(ImagePatterns.resolve)
  resolve(@Payload() req: ResolveImageRequest): Promise<ResolvedImageView> {
    return this.images.resolve(req.reference);
  }

  @MessagePattern(ImagePatterns.pull)
  pull(@Payload() req: PullImageRequest): Promise<PullImageReply> {
    return this.images.pull(req);
  }

  @MessagePattern(ImagePatterns.list)
  list(@Payload() req: ListImagesRequest): Promise<ImageView[]> {
    return this.images.list(!!req?.all, req?.filters ?? {});
  }

  @MessagePattern(ImagePatterns.inspect)
  inspect(@Payload() req: InspectImageRequest): Promise<ImageView> {
    return this.images.inspect(req.name);
  }

  @MessagePattern(ImagePatterns.history)
  history(@Payload() req: InspectImageRequest): Promise<HistoryEntryView[]> {
    return this.images.history(req.name);
  }

  @MessagePattern(ImagePatterns.tag)
  async tag(@Payload() req: TagImageRequest): Promise<{ ok: true }> {
    await this.images.tag(req);
    return { ok: true };
  }

  @MessagePattern(ImagePatterns.remove)
  remove(@Payload() req: RemoveImageRequest): Promise<RemoveImageReply> {
    return this.images.remove(req);
  }

  @MessagePattern(ImagePatterns.prune)
  prune(@Payload() req: PruneImagesRequest): Promise<PruneImagesReply> {
    return this.images.prune(req ?? {});
  }

  @MessagePattern(ImagePatterns.push)
  push(@Payload() req: PushImageRequest): Promise<PushImageReply> {
    return this.images.push(req);
  }

  @MessagePattern(ImagePatterns.save)
  save(@Payload() req: SaveImagesRequest): Promise<SaveImagesReply> {
    return this.images.save(req);
  }

  @MessagePattern(ImagePatterns.load)
  load(@Payload() req: LoadImagesRequest): Promise<LoadImagesReply> {
    return this.images.load(req);
  }

  @MessagePattern(ImagePatterns.import)
  import(@Payload() req: ImportImageRequest): Promise<ImportImageReply> {
    return this.images.import(req);
  }

  @MessagePattern(ImagePatterns.login)
  login(@Payload() req: LoginRequest): Promise<LoginReply> {
    return this.images.login(req ?? {});
  }

  @MessagePattern(ImagePatterns.search)
  search(@Payload() req: { term: string; limit?: number }): Promise<unknown[]> {
    return this.images.search(req.term, req.limit);
  }

  @MessagePattern(SystemPatterns.summary('images'))
  async summary(): Promise<ImagesSummary> {
    return { images: await this.images.count() };
  }
}
