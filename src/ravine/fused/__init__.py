"""The fused CPU step: rules traced to one C kernel (:mod:`.codegen`), built and cached (:mod:`.build`)."""
