#!/bin/bash
# profiles: custom
# edu DMA through iommufd: bytes verified, an unmapped IOVA blocked and
# reported by the IOMMU as a DMAR fault for the edu's requester id.
. /usr/local/bin/vmtest-lib.sh
edu_dma_check iommufd 0000:00:03.0
